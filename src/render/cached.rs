//! `cached(template="partials/card.html", key=p.path, p=p)`: renders a template once per build
//! for each key, as Hugo's `partialCached` does, and prints the same output wherever the key
//! comes again. A page's list card appears on its section's pages, its terms' pages and the
//! home page; the default theme renders each card once instead of on every list.
//!
//! The key is the template author's promise that the output depends on nothing else: the
//! other arguments are the template's whole context (with the globals `config` and `nav`),
//! and the cache lives as long as one build's theme, so no output outlives the content it was
//! rendered from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use tera::{Context, Function, Kwargs, State, Tera, TeraResult, Value};

/// The outputs of one build, and the templates that render them.
#[derive(Default)]
pub(super) struct Cache {
    /// A copy of the theme's templates with its globals, made before the first render: a Tera
    /// function cannot reach the instance that calls it.
    renderer: OnceLock<Tera>,
    /// `template` NUL key's type NUL `key` → output.
    outputs: Mutex<HashMap<String, Arc<str>>>,
}

/// How deep `cached` calls may nest inside one another's templates.
const MAX_DEPTH: usize = 16;

thread_local! {
    /// The outputs this thread is rendering now, outermost first: a template that comes round
    /// to its own key again would recurse until the stack overflows.
    static RENDERING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks an output as being rendered on this thread until dropped.
struct Rendering;

impl Rendering {
    fn enter(id: &str, template: &str) -> TeraResult<Rendering> {
        RENDERING.with_borrow_mut(|stack| {
            if stack.iter().any(|open| open == id) {
                return Err(tera::Error::message(format!(
                    "cached(template=\"{template}\"): the template renders itself with the same \
                     key, through cached(…), which would never end"
                )));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(tera::Error::message(format!(
                    "cached(template=\"{template}\"): cached(…) calls nest more than {MAX_DEPTH} \
                     deep; does a template call itself with a new key each time?"
                )));
            }
            stack.push(id.to_owned());
            Ok(Rendering)
        })
    }
}

impl Drop for Rendering {
    fn drop(&mut self) {
        RENDERING.with_borrow_mut(|stack| stack.pop());
    }
}

impl Cache {
    /// Registers `cached` on `tera`; the function holds the cache weakly, as the cache's own
    /// copy of `tera` holds the function.
    pub(super) fn register(tera: &mut Tera) -> Arc<Cache> {
        let cache = Arc::new(Cache::default());
        tera.register_function("cached", Cached(Arc::downgrade(&cache)));
        cache
    }

    /// Takes the templates `cached` renders with; later calls keep the first copy.
    pub(super) fn prepare(&self, tera: &Tera) {
        self.renderer.get_or_init(|| tera.clone());
    }

    /// Forgets every output, for a render of changed content with the same theme.
    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    pub(super) fn is_prepared(&self) -> bool {
        self.renderer.get().is_some()
    }

    fn output(&self, template: &str, key: &Value, kwargs: &Kwargs) -> TeraResult<Arc<str>> {
        // The key's type is part of it: `key="1"` and `key=1` are two keys.
        let id = format!("{template}\0{}\0{key}", key.name());
        if let Some(found) = self.lock().get(&id) {
            return Ok(Arc::clone(found));
        }
        // Rendered outside the lock: two threads may render one key at once, and both get
        // the same output, as the arguments are the same.
        let renderer = self.renderer.get().ok_or_else(|| {
            tera::Error::message("cached(): called before the theme was ready to render")
        })?;
        if !renderer.contains_template(template) {
            return Err(tera::Error::message(format!(
                "cached(template=\"{template}\"): no such template in the theme's or the site's \
                 templates/ folder"
            )));
        }
        let _rendering = Rendering::enter(&id, template)?;
        let mut context = Context::new();
        for (name, value) in kwargs.iter() {
            if let Some(name) = name.as_str().filter(|n| !matches!(*n, "template" | "key")) {
                context.insert_value(name.to_owned(), value.clone());
            }
        }
        let html: Arc<str> = renderer
            .render(template, &context)
            .map_err(|error| {
                tera::Error::message(format!("cached(template=\"{template}\"): {error}"))
            })?
            .into();
        self.lock().entry(id).or_insert_with(|| Arc::clone(&html));
        Ok(html)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        // A panic while holding the lock leaves the map whole: entries are inserted at once.
        self.outputs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Cached(Weak<Cache>);

impl Function<TeraResult<Value>> for Cached {
    fn call(&self, kwargs: Kwargs, _: &State) -> TeraResult<Value> {
        let template = kwargs.must_get::<&str>("template")?;
        let key = match kwargs.must_get::<Value>("key")? {
            key if key.as_str().is_some() || key.is_number() || key.as_bool().is_some() => key,
            other => {
                return Err(tera::Error::message(format!(
                    "cached(template=\"{template}\"): `key` must be a string, number or bool, \
                     not {}",
                    other.name()
                )));
            }
        };
        let cache = self
            .0
            .upgrade()
            .ok_or_else(|| tera::Error::message("cached(): the build that owned it has ended"))?;
        let html = cache.output(template, &key, &kwargs)?;
        Ok(Value::safe_string(&html))
    }

    /// Its output is a rendered template, escaped as that template escapes.
    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(templates: &[(&str, &str)]) -> (Tera, Arc<Cache>) {
        let mut tera = Tera::new();
        let cache = Cache::register(&mut tera);
        tera.add_raw_templates(templates.iter().copied())
            .expect("the test's templates compile");
        tera.global_context().insert("site", "Demo & co");
        cache.prepare(&tera);
        (tera, cache)
    }

    fn render(tera: &Tera, template: &str, items: &[(&str, &str)]) -> TeraResult<String> {
        let mut context = Context::new();
        let items: Vec<_> = items
            .iter()
            .map(|(path, title)| serde_json::json!({"path": path, "title": title}))
            .collect();
        context.insert("items", &items);
        tera.render(template, &context)
    }

    /// Renders `template` and checks that it fails with `needle` in the message.
    fn assert_fails(tera: &Tera, template: &str, needle: &str) {
        let error = format!("{:?}", render(tera, template, &[]).unwrap_err());
        assert!(error.contains(needle), "{template}: {error}");
    }

    const CARD: &str = "<b>{{ p.title }}</b>@{{ level }} of {{ site }}";

    #[test]
    fn each_key_renders_once_and_prints_the_same_output_again() {
        let (tera, cache) = theme(&[
            ("card.html", CARD),
            (
                "list.html",
                "{% for p in items %}[{{ cached(template=\"card.html\", key=p.path, p=p, level=2) }}]{% endfor %}",
            ),
        ]);
        let out = render(&tera, "list.html", &[("/a/", "A<"), ("/b/", "B")]).unwrap();
        assert_eq!(
            out,
            "[<b>A&lt;</b>@2 of Demo &amp; co][<b>B</b>@2 of Demo &amp; co]"
        );
        assert_eq!(cache.lock().len(), 2);
        // The same key again prints the first output, though the title differs: the key is
        // the author's promise.
        let again = render(&tera, "list.html", &[("/a/", "changed")]).unwrap();
        assert_eq!(again, "[<b>A&lt;</b>@2 of Demo &amp; co]");
        assert_eq!(cache.lock().len(), 2);
    }

    #[test]
    fn a_key_is_kept_apart_per_template() {
        let (tera, _cache) = theme(&[
            ("card.html", CARD),
            ("other.html", "other {{ p.title }}"),
            (
                "list.html",
                "{% for p in items %}{{ cached(template=\"card.html\", key=p.path, p=p, level=1) }}|{{ cached(template=\"other.html\", key=p.path, p=p) }}{% endfor %}",
            ),
        ]);
        let out = render(&tera, "list.html", &[("/a/", "A")]).unwrap();
        assert_eq!(out, "<b>A</b>@1 of Demo &amp; co|other A");
    }

    #[test]
    fn an_unknown_template_or_a_bad_key_is_an_error_that_names_it() {
        let (tera, _cache) = theme(&[
            (
                "missing.html",
                "{{ cached(template=\"nope.html\", key=\"k\") }}",
            ),
            (
                "map_key.html",
                "{{ cached(template=\"missing.html\", key=items) }}",
            ),
            ("no_key.html", "{{ cached(template=\"missing.html\") }}"),
            (
                "broken.html",
                "{{ cached(template=\"fails.html\", key=1) }}",
            ),
            ("fails.html", "{{ undefined_thing.field }}"),
        ]);
        assert_fails(
            &tera,
            "missing.html",
            "cached(template=\\\"nope.html\\\"): no such template",
        );
        assert_fails(
            &tera,
            "map_key.html",
            "`key` must be a string, number or bool",
        );
        assert_fails(&tera, "no_key.html", "key");
        assert_fails(&tera, "broken.html", "cached(template=\\\"fails.html\\\")");
    }

    #[test]
    fn keys_of_different_types_are_different_keys() {
        let (tera, cache) = theme(&[
            ("show.html", "{{ v }}"),
            (
                "list.html",
                "{{ cached(template=\"show.html\", key=\"1\", v=\"text\") }}|{{ cached(template=\"show.html\", key=1, v=\"number\") }}|{{ cached(template=\"show.html\", key=true, v=\"bool\") }}",
            ),
        ]);
        assert_eq!(render(&tera, "list.html", &[]).unwrap(), "text|number|bool");
        assert_eq!(cache.lock().len(), 3);
    }

    #[test]
    fn a_template_that_renders_itself_through_cached_is_an_error_not_a_crash() {
        let (tera, _cache) = theme(&[
            ("self.html", "{{ cached(template=\"self.html\", key=1) }}"),
            ("a.html", "a{{ cached(template=\"b.html\", key=1) }}"),
            ("b.html", "b{{ cached(template=\"a.html\", key=1) }}"),
            (
                "deeper.html",
                "{{ cached(template=\"deeper.html\", key=n + 1, n=n + 1) }}",
            ),
            (
                "start.html",
                "{{ cached(template=\"deeper.html\", key=0, n=0) }}",
            ),
        ]);
        assert_fails(&tera, "self.html", "renders itself with the same key");
        assert_fails(&tera, "a.html", "renders itself with the same key");
        assert_fails(&tera, "start.html", "nest more than 16 deep");
        // The guard is let go after each call: a template used twice side by side is fine
        // until it loops.
        let (tera, _cache) = theme(&[
            ("leaf.html", "leaf{{ k }}"),
            (
                "twice.html",
                "{{ cached(template=\"leaf.html\", key=2, k=2) }}{{ cached(template=\"leaf.html\", key=2, k=2) }}{{ cached(template=\"leaf.html\", key=3, k=3) }}",
            ),
        ]);
        assert_eq!(render(&tera, "twice.html", &[]).unwrap(), "leaf2leaf2leaf3");
    }

    #[test]
    fn the_cache_ends_with_its_theme() {
        let (tera, cache) = theme(&[("card.html", CARD)]);
        let weak = Arc::downgrade(&cache);
        drop(cache);
        assert!(
            weak.upgrade().is_none(),
            "the function does not keep the cache alive"
        );
        let mut context = Context::new();
        context.insert("p", &serde_json::json!({"title": "A"}));
        let error = tera
            .render_str(
                "{{ cached(template=\"card.html\", key=1) }}",
                &context,
                false,
            )
            .unwrap_err();
        assert!(format!("{error:?}").contains("has ended"), "{error:?}");
    }
}
