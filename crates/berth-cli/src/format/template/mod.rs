//! Go text/template, as docker's `--format` uses it, evaluated over `serde_json::Value`.
//!
//! Why our own engine rather than `gtmpl`: docker's output depends on Go's exact printing
//! rules (`map[k:v]`, `[a b]`, `<no value>` vs `<nil>`, numbers as the JSON wrote them),
//! on its `missingkey` modes, and on docker's extra functions; `gtmpl` works on its own
//! value type (every JSON document would be converted), prints composite values and
//! numbers differently, and has no missing-key policy, so matching docker would mean
//! patching around it anyway. The subset docker users write is small enough to own:
//! fields and chains, variables, pipelines, `if`/`else if`/`with`/`range`/`break`/
//! `continue`, comments, trim markers, and the functions in `funcs`.

mod exec;
mod funcs;
mod lexer;
mod parser;
mod printf;
mod value;

use std::fmt;

use serde_json::Value;

pub use printf::quote;

/// What a field that is not in its map evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// Nothing: prints `<no value>` (Go's default).
    Zero,
    /// An empty string, as a missing key of Go's `map[string]string` (table headers).
    Empty,
    /// An error, as docker's fixed-shape contexts and `missingkey=error` report it.
    Error,
}

#[derive(Debug)]
pub struct Template {
    source: String,
    nodes: Vec<parser::Node>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let nodes = parser::parse(source, lexer::lex(source)?)?;
        Ok(Template {
            source: source.to_string(),
            nodes,
        })
    }

    pub fn execute(&self, data: &Value, missing: MissingKey) -> Result<String, TemplateError> {
        exec::execute(&self.source, &self.nodes, data, missing)
    }
}

/// A parse or execution error, worded as Go words it (`template: :1:2: executing "" at
/// <.Foo>: ...`), which is what docker prints.
#[derive(Debug)]
pub struct TemplateError {
    message: String,
}

impl TemplateError {
    fn parse(src: &str, pos: usize, message: &str) -> Self {
        let (line, _) = line_and_column(src, pos);
        TemplateError {
            message: format!("template: :{line}: {message}"),
        }
    }

    fn exec(src: &str, pos: usize, node: &str, message: &str) -> Self {
        let (line, column) = line_and_column(src, pos);
        TemplateError {
            message: format!("template: :{line}:{column}: executing \"\" at <{node}>: {message}"),
        }
    }
}

/// 1-based line and 0-based byte column, as Go's template errors count them.
fn line_and_column(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1);
    (line, column)
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(src: &str, data: &Value) -> String {
        Template::parse(src)
            .unwrap()
            .execute(data, MissingKey::Zero)
            .unwrap()
    }

    fn fails(src: &str, data: &Value, missing: MissingKey) -> String {
        match Template::parse(src) {
            Err(e) => e.to_string(),
            Ok(t) => t.execute(data, missing).unwrap_err().to_string(),
        }
    }

    fn inspect() -> Value {
        json!({
            "Id": "15f071575ca6",
            "Name": "/web",
            "State": {"Status": "running", "Running": true, "ExitCode": 0, "Pid": 5369},
            "Config": {
                "Env": ["PATH=/bin", "X=1"],
                "Cmd": ["sleep", "1000"],
                "Labels": {"b": "2", "a": "1", "com.example.role": "db"},
                "Entrypoint": null,
            },
            "Mounts": [],
        })
    }

    #[test]
    fn field_paths() {
        let data = inspect();
        assert_eq!(
            render("{{.State.Running}} {{.Id}}", &data),
            "true 15f071575ca6"
        );
        assert_eq!(render("{{.State.Pid}}", &data), "5369");
        assert_eq!(render("{{.Config.Cmd}}", &data), "[sleep 1000]");
        assert_eq!(
            render("{{.Config.Labels}}", &data),
            "map[a:1 b:2 com.example.role:db]"
        );
        assert_eq!(render("{{.}}", &json!("plain")), "plain");
    }

    #[test]
    fn missing_and_nil_values() {
        let data = inspect();
        assert_eq!(render("{{.Nope}}", &data), "<no value>");
        assert_eq!(render("{{.Nope.Deeper}}", &data), "<no value>");
        assert_eq!(render("{{.Config.Entrypoint}}", &data), "<no value>");
        assert_eq!(
            fails("{{.Nope}}", &data, MissingKey::Error),
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
        let header = Template::parse("{{.ID}}|{{.Unknown}}").unwrap();
        assert_eq!(
            header
                .execute(&json!({"ID": "CONTAINER ID"}), MissingKey::Empty)
                .unwrap(),
            "CONTAINER ID|"
        );
    }

    #[test]
    fn field_of_a_string_is_an_error() {
        assert_eq!(
            fails("{{.Name.First}}", &inspect(), MissingKey::Zero),
            "template: :1:2: executing \"\" at <.Name.First>: can't evaluate field First in type string"
        );
    }

    #[test]
    fn index_json_join() {
        let data = inspect();
        assert_eq!(
            render(r#"{{index .Config.Labels "com.example.role"}}"#, &data),
            "db"
        );
        assert_eq!(render("{{index .Config.Cmd 1}}", &data), "1000");
        assert_eq!(render("{{json .Config.Cmd}}", &data), r#"["sleep","1000"]"#);
        assert_eq!(
            // An object keeps the daemon's key order, as docker prints a struct.
            render("{{json .State}}", &data),
            r#"{"Status":"running","Running":true,"ExitCode":0,"Pid":5369}"#
        );
        assert_eq!(
            render(r#"{{join .Config.Env ","}}"#, &data),
            "PATH=/bin,X=1"
        );
    }

    #[test]
    fn string_functions_and_pipelines() {
        let data = json!({"Names": "web", "Status": "up 2 minutes"});
        assert_eq!(render("{{upper .Names}}", &data), "WEB");
        assert_eq!(render("{{.Names | upper}}", &data), "WEB");
        assert_eq!(render("{{.Status | title}}", &data), "Up 2 Minutes");
        assert_eq!(render("{{lower \"ABC\"}}", &data), "abc");
        assert_eq!(render(r#"{{index (split .Status " ") 1}}"#, &data), "2");
        assert_eq!(render(r#"{{len (split .Status " ")}}"#, &data), "3");
        assert_eq!(render("{{len .Names}}", &data), "3");
        assert_eq!(
            render(r#"{{printf "%-5s|%3d" .Names 7}}"#, &data),
            "web  |  7"
        );
        assert_eq!(render(r#"{{println "a" 1}}b"#, &data), "a 1\nb");
        assert_eq!(render(r#"{{.Names | printf "%s!"}}"#, &data), "web!");
    }

    #[test]
    fn range_over_lists_maps_and_with_variables() {
        let data = inspect();
        assert_eq!(
            render("{{range .Config.Cmd}}[{{.}}]{{end}}", &data),
            "[sleep][1000]"
        );
        assert_eq!(
            render(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                &data
            ),
            "a=1;b=2;com.example.role=db;"
        );
        assert_eq!(
            render(
                "{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}",
                &data
            ),
            "0:sleep 1:1000 "
        );
        assert_eq!(
            render("{{range .Mounts}}x{{else}}none{{end}}", &data),
            "none"
        );
        assert_eq!(
            render("{{range .Missing}}x{{else}}none{{end}}", &data),
            "none"
        );
        assert_eq!(
            render(
                "{{range .Config.Env}}{{if eq . \"X=1\"}}{{break}}{{end}}{{.}};{{end}}",
                &data
            ),
            "PATH=/bin;"
        );
        assert_eq!(
            render(
                "{{range .Config.Env}}{{if eq . \"PATH=/bin\"}}{{continue}}{{end}}{{.}}{{end}}",
                &data
            ),
            "X=1"
        );
        assert_eq!(
            render("{{range $.Config.Cmd}}{{$.Name}}{{end}}", &data),
            "/web/web"
        );
        assert_eq!(render("{{range 3}}{{.}}{{end}}", &data), "012");
    }

    #[test]
    fn if_else_with() {
        let data = inspect();
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", &data),
            "up"
        );
        assert_eq!(
            render(
                r#"{{if eq .State.Status "exited"}}x{{else if .State.Running}}r{{else}}?{{end}}"#,
                &data
            ),
            "r"
        );
        assert_eq!(
            render("{{with .State}}{{.Status}}{{end}}", &data),
            "running"
        );
        assert_eq!(
            render("{{with .Nope}}x{{else}}empty{{end}}", &data),
            "empty"
        );
        assert_eq!(
            render("{{with $s := .State.Status}}{{$s}}{{end}}", &data),
            "running"
        );
        assert_eq!(render("{{$n := .Name}}{{$n = \"z\"}}{{$n}}", &data), "z");
    }

    #[test]
    fn comparisons_and_logic() {
        let data = inspect();
        assert_eq!(
            render("{{eq .State.ExitCode 0}} {{ne .Name \"/web\"}}", &data),
            "true false"
        );
        assert_eq!(
            render("{{lt 1 2}} {{gt 1 2}} {{le 2 2}} {{ge \"a\" \"b\"}}", &data),
            "true false true false"
        );
        assert_eq!(
            render("{{and .State.Running .Id}} {{or .Nope \"dflt\"}}", &data),
            "15f071575ca6 dflt"
        );
        assert_eq!(
            render("{{not .State.Running}} {{and 0 .Nope.X}}", &data),
            "false 0"
        );
        assert_eq!(
            fails(r#"{{eq .State.Pid "x"}}"#, &data, MissingKey::Zero),
            "template: :1:2: executing \"\" at <eq .State.Pid \"x\">: error calling eq: incompatible types for comparison"
        );
    }

    #[test]
    fn whitespace_trimming_and_comments() {
        let data = inspect();
        assert_eq!(render("a  {{- .Name -}}  b", &data), "a/webb");
        assert_eq!(render("{{/* a comment */}}x", &data), "x");
        assert_eq!(
            render("{{range .Config.Cmd -}}\n  {{.}}\n{{- end}}", &data),
            "sleep1000"
        );
    }

    #[test]
    fn parse_errors_read_like_go() {
        let data = json!({});
        assert_eq!(
            fails("{{.Foo", &data, MissingKey::Zero),
            "template: :1: unclosed action"
        );
        assert!(
            fails("a\n{{if .X}}", &data, MissingKey::Zero)
                .starts_with("template: :2: unexpected EOF")
        );
        assert_eq!(
            fails("{{bogus}}", &data, MissingKey::Zero),
            "template: :1: function \"bogus\" not defined"
        );
        assert_eq!(
            fails("{{\"x\" 1}}", &data, MissingKey::Zero),
            "template: :1:2: executing \"\" at <\"x\">: can't give argument to non-function \"x\""
        );
    }
}
