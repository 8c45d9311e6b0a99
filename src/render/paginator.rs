//! `paginator`, Zola's pager object, for paginated sections and taxonomy terms:
//! `{paginate_by, base_url, number_pagers, first, last, previous, next, pages, current_index,
//! total_pages}`. URLs are permalinks, as in Zola. `pages` are the same summaries as
//! `section.pages`, so a gated page shows there only what its summary shows.

use serde::Serialize;
use tera::Value;

use crate::content::Paginate;

#[derive(Serialize, Clone, Debug)]
pub struct PaginatorCtx {
    pub paginate_by: usize,
    /// The list's permalink plus the pagination folder: `https://…/blog/page/`; appending a
    /// number and `/` gives that pager's URL.
    pub base_url: String,
    pub number_pagers: usize,
    pub first: String,
    pub last: String,
    pub previous: Option<String>,
    pub next: Option<String>,
    /// This pager's page summaries.
    pub pages: Value,
    /// 1-based.
    pub current_index: usize,
    /// Pages across every pager.
    pub total_pages: usize,
    /// Where this pager is written (URL path), for the build; not a template field.
    #[serde(skip)]
    pub path: String,
}

/// One paginator per pager of the list at `list_path` (`/blog/`) holding `items`; the first
/// is the list's own page. `site_url` is the site's base URL without a trailing slash.
pub fn paginators(
    paginate: &Paginate,
    list_path: &str,
    site_url: &str,
    items: &[Value],
) -> Vec<PaginatorCtx> {
    let count = paginate.pager_count(items.len());
    let url = |n: usize| format!("{site_url}{}", paginate.pager_path(list_path, n));
    (1..=count)
        .map(|n| {
            let start = (n - 1) * paginate.by;
            let end = (start + paginate.by).min(items.len());
            PaginatorCtx {
                paginate_by: paginate.by,
                base_url: format!("{site_url}{}", paginate.folder(list_path)),
                number_pagers: count,
                first: url(1),
                last: url(count),
                previous: (n > 1).then(|| url(n - 1)),
                next: (n < count).then(|| url(n + 1)),
                pages: Value::from(items.get(start..end).unwrap_or_default().to_vec()),
                current_index: n,
                total_pages: items.len(),
                path: paginate.pager_path(list_path, n),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_pages_by_two_make_three_pagers_linked_both_ways() {
        let paginate = Paginate {
            by: 2,
            path: "page".to_owned(),
        };
        let items: Vec<Value> = (1..=5).map(Value::from).collect();
        let pagers = paginators(&paginate, "/blog/", "https://x.example", &items);
        assert_eq!(pagers.len(), 3);
        let second = &pagers[1];
        assert_eq!(second.current_index, 2);
        assert_eq!(second.number_pagers, 3);
        assert_eq!(second.total_pages, 5);
        assert_eq!(second.path, "/blog/page/2/");
        assert_eq!(second.first, "https://x.example/blog/");
        assert_eq!(second.last, "https://x.example/blog/page/3/");
        assert_eq!(second.previous.as_deref(), Some("https://x.example/blog/"));
        assert_eq!(
            second.next.as_deref(),
            Some("https://x.example/blog/page/3/")
        );
        assert_eq!(second.base_url, "https://x.example/blog/page/");
        assert_eq!(
            second.pages,
            Value::from(vec![Value::from(3), Value::from(4)])
        );
        assert_eq!(pagers[0].previous, None);
        assert_eq!(pagers[2].next, None);
        assert_eq!(pagers[2].pages, Value::from(vec![Value::from(5)]));
    }

    #[test]
    fn an_empty_list_still_has_its_first_pager() {
        let paginate = Paginate {
            by: 3,
            path: "p".to_owned(),
        };
        let pagers = paginators(&paginate, "/", "https://x.example", &[]);
        assert_eq!(pagers.len(), 1);
        assert_eq!(pagers[0].last, "https://x.example/");
        assert_eq!(pagers[0].next, None);
    }
}
