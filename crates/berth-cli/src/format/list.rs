//! `--format` for list commands (ps, images, history), as docker's formatter reads it:
//! `table [TEMPLATE]` aligns columns under headers, `json` prints one object per line,
//! anything else is a template run once per row.

use serde_json::Value;

use super::json::row_json_line;
use super::table::align;
use super::template::{MissingKey, Template, TemplateError};

pub struct ListFormat {
    template: Template,
    table: bool,
    /// `--format json`: each row as Go marshals it, whatever the template.
    json: bool,
}

const TABLE: &str = "table";

impl ListFormat {
    /// `format` as given on the command line (`None`: the default table); `default_table`
    /// is the command's own table template; `quiet` (`-q`) prints only IDs, whatever the
    /// format.
    pub fn new(
        format: Option<&str>,
        default_table: &str,
        quiet: bool,
    ) -> Result<Self, TemplateError> {
        let format = if quiet { Some("{{.ID}}") } else { format };
        let json = format == Some("json");
        let format = match format.unwrap_or(TABLE) {
            TABLE => default_table,
            "json" => "{{json .}}",
            other => other,
        };
        let (table, body) = match format.strip_prefix(TABLE) {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        // Docker lets `\t` and `\n` typed in a shell string stand for tab and newline.
        let body = body
            .trim_matches(' ')
            .replace(r"\t", "\t")
            .replace(r"\n", "\n");
        Ok(ListFormat {
            template: Template::parse(&body)?,
            table,
            json,
        })
    }

    /// For commands whose `-q` prints something else than `{{.ID}}` (volume names), or
    /// whose `-q` gives way to an explicit `--format`: `format`, or `quiet` when there is
    /// none or it is the plain table.
    pub fn with_quiet(
        format: Option<&str>,
        default_table: &str,
        quiet: Option<&str>,
    ) -> Result<Self, TemplateError> {
        let format = match (format, quiet) {
            (None | Some(TABLE), Some(quiet)) => Some(quiet),
            (format, _) => format,
        };
        Self::new(format, default_table, false)
    }

    /// Renders `rows`, each a context object; `headers` maps each field to its column
    /// title.
    pub fn render(&self, rows: &[Value], headers: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        if self.table {
            out.push_str(&self.template.execute(headers, MissingKey::Empty)?);
            out.push('\n');
        }
        for row in rows {
            if self.json {
                // Rows are JSON values already; they always serialize.
                out.push_str(&row_json_line(row).unwrap_or_default());
            } else {
                out.push_str(&self.template.execute(row, MissingKey::Error)?);
            }
            out.push('\n');
        }
        Ok(if self.table { align(&out) } else { out })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows() -> Vec<Value> {
        vec![
            json!({"ID": "15f071575ca6", "Names": "web"}),
            json!({"ID": "de323f471011", "Names": "zen_roentgen"}),
        ]
    }

    fn headers() -> Value {
        json!({"ID": "CONTAINER ID", "Names": "NAMES"})
    }

    #[test]
    fn table_prefix_prints_headers_and_aligns() {
        let format = ListFormat::new(Some(r"table {{.ID}}\t{{.Names}}"), "", false).unwrap();
        assert_eq!(
            format.render(&rows(), &headers()).unwrap(),
            "CONTAINER ID   NAMES\n15f071575ca6   web\nde323f471011   zen_roentgen\n"
        );
    }

    #[test]
    fn default_is_the_command_table() {
        let format = ListFormat::new(None, "table {{.Names}}", false).unwrap();
        assert_eq!(format.render(&[], &headers()).unwrap(), "NAMES\n");
        let format = ListFormat::new(Some("table"), "table {{.Names}}", false).unwrap();
        assert_eq!(
            format.render(&rows()[..1], &headers()).unwrap(),
            "NAMES\nweb\n"
        );
    }

    #[test]
    fn quiet_prints_ids_only() {
        let format = ListFormat::new(Some("table {{.Names}}"), "table {{.Names}}", true).unwrap();
        assert_eq!(
            format.render(&rows(), &headers()).unwrap(),
            "15f071575ca6\nde323f471011\n"
        );
    }

    #[test]
    fn plain_templates_have_no_header_and_keep_tabs() {
        let format = ListFormat::new(Some(r"{{.ID}}\t{{.Names}}"), "", false).unwrap();
        assert_eq!(
            format.render(&rows(), &headers()).unwrap(),
            "15f071575ca6\tweb\nde323f471011\tzen_roentgen\n"
        );
    }

    #[test]
    fn json_prints_each_row() {
        let format = ListFormat::new(Some("json"), "", false).unwrap();
        assert_eq!(
            format.render(&rows()[..1], &headers()).unwrap(),
            "{\"ID\":\"15f071575ca6\",\"Names\":\"web\"}\n"
        );
    }

    #[test]
    fn header_passes_through_functions() {
        let format =
            ListFormat::new(Some("table {{.Names | lower}}\t{{.Unknown}}"), "", false).unwrap();
        // The empty header still ends a cell, so the column is padded as Go pads it.
        assert_eq!(format.render(&[], &headers()).unwrap(), "names     \n");
    }

    #[test]
    fn unknown_fields_in_rows_are_errors() {
        let format = ListFormat::new(Some("{{.Nope}}"), "", false).unwrap();
        assert!(format.render(&rows(), &headers()).is_err());
    }
}
