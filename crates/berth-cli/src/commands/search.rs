//! `search`: repositories of a registry that match a term, through the daemon (Docker's
//! search API; Docker Hub, or the registry the term names first).

use hyper::Method;
use serde_json::{Value, json};

use crate::cli::SearchArgs;
use crate::client::Connector;
use crate::client::raw::{parse_json, query, request};
use crate::error::{CliError, template_failure};
use crate::format::containers::ellipsis;
use crate::format::list::ListFormat;
use crate::output;

/// Docker's columns.
const TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";

fn headers() -> Value {
    json!({"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
           "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"})
}

/// One result as `--format` sees it (`[OK]` marks official images, as docker shows them).
fn row(result: &Value, trunc: bool) -> Value {
    let description = result["description"]
        .as_str()
        .unwrap_or_default()
        .replace('\n', " ");
    let ok = |key: &str| {
        if result[key].as_bool() == Some(true) {
            "[OK]"
        } else {
            ""
        }
    };
    json!({
        "Name": result["name"],
        "Description": if trunc { ellipsis(&description, 45) } else { description },
        "StarCount": result["star_count"].as_u64().unwrap_or(0),
        "IsOfficial": ok("is_official"),
        "IsAutomated": ok("is_automated"),
    })
}

pub async fn run(connector: &Connector, args: SearchArgs) -> Result<(), CliError> {
    let format = ListFormat::new(args.format.as_deref(), TABLE, false)
        .map_err(template_failure("template parsing error"))?;
    let filters =
        super::filter_map(&args.filter).map(|f| serde_json::to_string(&f).unwrap_or_default());
    let limit = args.limit.map(|l| l.to_string());
    let mut pairs = vec![("term", args.term.as_str())];
    if let Some(limit) = &limit {
        pairs.push(("limit", limit));
    }
    if let Some(filters) = &filters {
        pairs.push(("filters", filters));
    }
    // Connecting first starts berthd when that is allowed; the request is then sent raw.
    connector.connect().await?;
    let path = format!("/images/search?{}", query(&pairs));
    let response = request(connector.host(), Method::GET, &path, None)
        .await
        .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let body = response.bytes().await.map_err(CliError::Failed)?;
    let results: Vec<Value> = parse_json("/images/search", &body).map_err(CliError::Failed)?;
    let rows: Vec<Value> = results.iter().map(|r| row(r, !args.no_trunc)).collect();
    let text = format.render(&rows, &headers());
    output::print(&text.map_err(template_failure("template parsing error"))?);
    Ok(())
}
