//! What a shortcode template accepts, declared in its first comment:
//! `{#- args: src: string!, alt: string, width: number -#}` (`!` marks a required argument;
//! the types are `string`, `number`, `bool`, `array` and `any`). A call is checked against it,
//! so a misspelt argument is an error with a did-you-mean rather than an empty attribute.
//! A template without the comment takes anything, as in Zola.

use super::call::{ArgValue, Call};
use crate::suggest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub args: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: String,
    pub required: bool,
}

const KINDS: [&str; 5] = ["string", "number", "bool", "array", "any"];

/// The declaration in `template`, if it has one; an error for one that is malformed.
pub fn declared(template: &str) -> Result<Option<Signature>, String> {
    let Some(start) = template.find("{#") else {
        return Ok(None);
    };
    let Some(len) = template[start..].find("#}") else {
        return Ok(None);
    };
    let comment = template[start + 2..start + len].trim_matches('-').trim();
    let Some(list) = comment.strip_prefix("args:") else {
        return Ok(None);
    };
    let mut args = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, kind) = item
            .split_once(':')
            .ok_or_else(|| format!("`{item}`: write `name: type`"))?;
        let kind = kind.trim();
        let (kind, required) = match kind.strip_suffix('!') {
            Some(kind) => (kind.trim(), true),
            None => (kind, false),
        };
        if !KINDS.contains(&kind) {
            return Err(format!(
                "`{item}`: unknown type `{kind}`{}",
                suggest::hint(kind, KINDS)
            ));
        }
        args.push(Param {
            name: name.trim().to_owned(),
            kind: kind.to_owned(),
            required,
        });
    }
    Ok(Some(Signature { args }))
}

impl Signature {
    /// Every problem with `call`'s arguments, one message each.
    pub fn check(&self, call: &Call) -> Vec<String> {
        let names = || self.args.iter().map(|p| p.name.as_str());
        let takes = names().collect::<Vec<_>>().join(", ");
        let mut problems = Vec::new();
        for (key, value) in &call.args {
            match self.args.iter().find(|p| p.name == *key) {
                None => problems.push(format!(
                    "`{}` has no argument `{key}`{} (it takes: {takes})",
                    call.name,
                    suggest::closest(key, names())
                        .map(|best| format!(" (did you mean `{best}`?)"))
                        .unwrap_or_default()
                )),
                Some(param) if !fits(&param.kind, value) => problems.push(format!(
                    "`{}`: argument `{key}` must be a {}, not a {} ({value})",
                    call.name,
                    param.kind,
                    value.type_name()
                )),
                Some(_) => {}
            }
        }
        for param in self.args.iter().filter(|p| p.required) {
            if !call.args.iter().any(|(key, _)| *key == param.name) {
                problems.push(format!(
                    "`{}` needs the argument `{}` (a {})",
                    call.name, param.name, param.kind
                ));
            }
        }
        problems
    }
}

fn fits(kind: &str, value: &ArgValue) -> bool {
    kind == "any" || kind == value.type_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(text: &str) -> Call {
        super::super::call::parse(text).expect("valid").0
    }

    #[test]
    fn declarations_are_read_from_the_first_comment() {
        let signature = declared("{#- args: src: string!, width: number -#}\n<img>")
            .expect("valid")
            .expect("declared");
        assert_eq!(signature.args.len(), 2);
        assert!(signature.args[0].required);
        assert_eq!(declared("<p>{{ body }}</p>").expect("valid"), None);
        assert!(
            declared("{# args: a: strng #}")
                .unwrap_err()
                .contains("did you mean `string`")
        );
    }

    #[test]
    fn calls_are_checked_by_name_type_and_presence() {
        let signature = declared("{# args: src: string!, caption: string, width: number #}")
            .expect("valid")
            .expect("declared");
        assert!(signature.check(&call(r#"f(src="a", width=3)"#)).is_empty());
        let problems = signature.check(&call(r#"f(captoin="x", width="3")"#));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("did you mean `caption`"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("must be a number, not a string"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains("needs the argument `src`"),
            "{problems:?}"
        );
    }
}
