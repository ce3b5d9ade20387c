//! `report_html` and `write_report_html` on a real run's report
//! (tests/data/run-report.json): the page embeds the document exactly, a
//! series streamed in line by line gives the same page as one held in the
//! document, and names that look like markup (a stream called
//! `</script><script>...`) stay text — in the tables, in the embedded JSON —
//! so that the page still opens in headless Chromium with no JavaScript
//! error and every chart drawn.

use std::path::Path;

use linerate_engine::report::ReportDocument;
use linerate_web::testing::{check_page_with, PageOptions};

fn load_document() -> ReportDocument {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-report.json");
    let text = std::fs::read_to_string(&path).expect("the fixture is there");
    serde_json::from_str(&text).expect("the fixture is a ReportDocument")
}

fn embedded(page: &str) -> ReportDocument {
    let start_tag = "<script type=\"application/json\" id=\"report-data\">";
    let start = page.find(start_tag).expect("the page embeds the document") + start_tag.len();
    let length = page[start..].find("</script>").expect("its script ends");
    serde_json::from_str(&page[start..start + length]).expect("the embedded document parses")
}

/// The fixture with its first stream renamed everywhere to `name`.
fn renamed(mut document: ReportDocument, name: &str) -> ReportDocument {
    let old = document.streams[0].name.clone();
    document.streams[0].name = name.to_string();
    document.scenario.streams[0].name = name.to_string();
    for interval in &mut document.intervals {
        for stream in &mut interval.streams {
            if stream.name == old {
                stream.name = name.to_string();
            }
        }
    }
    for tx in &mut document.environment.tx {
        for stream in &mut tx.streams {
            if *stream == old {
                *stream = name.to_string();
            }
        }
    }
    document
}

#[test]
fn the_page_embeds_the_document_and_a_streamed_series_gives_the_same_page() {
    let document = load_document();
    let page = linerate_web::report_html(&document);
    assert_eq!(embedded(&page), document);

    let series: Vec<String> = document
        .intervals
        .iter()
        .map(|interval| serde_json::to_string(interval).expect("JSON") + "\n")
        .collect();
    let shell = ReportDocument {
        intervals: Vec::new(),
        ..document.clone()
    };
    let mut streamed = Vec::new();
    linerate_web::write_report_html(&mut streamed, &shell, series.into_iter().map(Ok))
        .expect("written");
    assert_eq!(String::from_utf8(streamed).expect("UTF-8"), page);
}

#[test]
fn markup_in_names_stays_text_and_the_page_still_works() {
    let hostile = "</script><script>document.title='owned'</script><b>x</b>";
    let document = renamed(load_document(), hostile);
    let page = linerate_web::report_html(&document);
    assert_eq!(
        page.matches("</script>").count(),
        5,
        "health, data, uPlot, charts and report scripts, nothing from the name"
    );
    assert!(
        !page.contains("<b>x</b>"),
        "the name is escaped in the tables"
    );
    assert!(
        page.contains("&lt;/script&gt;&lt;script&gt;"),
        "shown as text"
    );
    assert_eq!(embedded(&page), document, "the JSON still says the name");

    let dir = std::env::temp_dir().join(format!("linerate-web-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("report.html");
    std::fs::write(&file, &page).expect("write the page");
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-fixture.png");
    let mut options = PageOptions::new(&screenshot);
    options.window = (1400, 2000);
    let checked = check_page_with(&format!("file://{}", file.display()), &options);
    let _ = std::fs::remove_dir_all(&dir);
    let checked = checked.expect("chromium opens the page");
    assert_eq!(checked.errors, 0, "{:?}", checked.error_messages);
    assert!(
        checked.dom.contains("<title>linerate report · "),
        "the title is the page's"
    );
    let intervals = format!("{} points", document.intervals.len());
    assert_eq!(
        checked.charts_drawn(),
        vec![
            intervals.clone(),
            intervals.clone(),
            intervals,
            "12 points".to_string()
        ]
    );
    assert!(checked.non_background_share > 0.10);
}
