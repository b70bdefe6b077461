//! HTML pieces of the report: escaping of untrusted text (agent names, model output and
//! propositions all come from outside), JSON embedded so that no text in it can close its script
//! element, tables, and the page around the sections.

use std::fmt::Write as _;

/// `text` safe inside an element and inside a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON document for a `<script type="application/json">` element: `<`, `>` and `&` are written
/// as `\u003c`, `\u003e` and `\u0026` (the same JSON), so no text inside can end the element or
/// open a comment, and `JSON.parse` reads it back unchanged.
pub fn embed_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // Line and paragraph separators are valid in JSON strings but end lines in scripts.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A table: a header row and body rows, every cell escaped; a cell already escaped (HTML of our
/// own) is passed as [`Cell::Html`].
pub fn table(class: &str, header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut html = format!("<table class=\"{}\"><thead><tr>", escape(class));
    for h in header {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(text) => {
                    let _ = write!(html, "<td>{}</td>", escape(text));
                }
                Cell::Number(text) => {
                    let _ = write!(html, "<td class=\"num\">{}</td>", escape(text));
                }
                Cell::Html(html_text) => {
                    let _ = write!(html, "<td>{html_text}</td>");
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// One table cell.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(String),
    /// Right-aligned.
    Number(String),
    /// HTML the report built itself (its texts already escaped).
    Html(String),
}

/// A section of the page: an anchor id, a heading and its HTML.
#[derive(Clone, Debug)]
pub struct Section {
    pub id: &'static str,
    pub title: String,
    pub html: String,
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#fafafa}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9cfdb}
nav{padding:8px 24px;background:#eef0f4;border-bottom:1px solid #d7dbe3}nav a{margin-right:14px;color:#0b4f8a;text-decoration:none}
main{padding:8px 24px 40px;max-width:1200px}section{margin:22px 0}h2{font-size:17px;border-bottom:1px solid #d7dbe3;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d7dbe3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}td.num{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#6b7280;font-style:italic}
section svg{max-width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}svg .title{font-weight:600;font-size:13px}svg .grid{stroke:#e5e7eb}
svg .axis{stroke:#6b7280}svg .band{opacity:.18}svg .reference line{stroke:#6b7280;stroke-dasharray:4 3}svg .reference text{fill:#4b5563;font-size:11px}
svg .nogames{fill:#f3f4f6;stroke:#fff}svg .cell rect{stroke:#fff}svg .cell text{font-size:11px}
svg .node rect{fill:#fff;stroke:#6b7280;stroke-width:1.5}svg .node.promoted rect{stroke:#009E73;fill:#e7f6f0}svg .node.rejected rect{stroke:#D55E00;fill:#fbeee6}
svg .edge line{stroke:#6b7280;stroke-width:1.5}svg .edge-label{font-size:11px;fill:#4b5563}svg .edge.rejected line{stroke:#D55E00;stroke-dasharray:5 3}svg .edge.promoted line{stroke:#009E73}
.flag{color:#b91c1c;font-weight:600}.muted{color:#6b7280}
.viewer-body{display:flex;gap:24px;align-items:flex-start}#viewer-moves{max-height:360px;overflow:auto;margin:0;padding-left:28px}
#viewer-moves li.current{font-weight:700;background:#fff3c4}svg.board .cell{fill:#dfe6ee;stroke:#fff;stroke-width:2}
svg.board .mark{font:bold 26px system-ui,sans-serif}pre{white-space:pre-wrap;background:#f3f4f6;padding:6px 8px;margin:4px 0 10px}
.turn.rejected pre{color:#b91c1c}
";

/// The whole page: a header, a table of contents, the sections, the report's data as JSON
/// (`<script type="application/json" id="report-data">`) and then `script`, the report's own code
/// (never built from data); nothing is fetched.
pub fn page(title: &str, subtitle: &str, sections: &[Section], data: &serde_json::Value, script: &str) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><header><h1>{}</h1><p>{}</p></header><nav>",
        escape(title),
        escape(title),
        escape(subtitle)
    );
    for section in sections {
        let _ = write!(html, "<a href=\"#{}\">{}</a>", section.id, escape(&section.title));
    }
    html.push_str("</nav><main>");
    for section in sections {
        let _ = write!(
            html,
            "<section id=\"{}\"><h2>{}</h2>{}</section>",
            section.id,
            escape(&section.title),
            section.html
        );
    }
    let _ = write!(html, "</main><script type=\"application/json\" id=\"report-data\">{}</script>", embed_json(data));
    if !script.is_empty() {
        let _ = write!(html, "<script>{script}</script>");
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_markup_comes_out_as_text() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let data = serde_json::json!({ "name": "</script><script>alert(1)</script><!--" });
        let embedded = embed_json(&data);
        assert!(!embedded.contains('<') && !embedded.contains('>'), "{embedded}");
        let back: serde_json::Value = serde_json::from_str(&embedded).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, data, "the embedded JSON reads back unchanged");
    }

    #[test]
    fn a_page_escapes_its_titles_and_tables() {
        let planted = "<img src=x onerror=alert(1)>";
        let rows = vec![vec![Cell::Text(planted.into()), Cell::Number("1".into())]];
        let section = Section { id: "s", title: planted.into(), html: table("t", &[planted], &rows) };
        let page = page(planted, planted, &[section], &serde_json::json!({ "x": planted }), "");
        assert!(!page.contains("<img"), "{page}");
        assert_eq!(page.matches("&lt;img").count(), 7, "title, h1, subtitle, nav, h2, th, td: {page}");
    }
}
