//! Scenario errors: one line naming the file, line, column and field, and
//! what to do about it.

use std::fmt;
use std::ops::Range;

/// A scenario that could not be read, parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, 0 when the error is about the whole file.
    pub line: usize,
    /// 1-based column, 0 when the error is about the whole file.
    pub column: usize,
    /// The field's path, e.g. `stream[0].src_mac`, when one is known.
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Maps byte offsets of a scenario's text to lines, columns and field paths.
#[derive(Debug)]
pub(crate) struct SourceMap<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        SourceMap { file, text }
    }

    /// 1-based line and column of byte `offset`.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|index| index + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// An error at `span` about `field`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.line_column(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field,
            message: message.into(),
        }
    }

    /// An error about the whole file.
    pub(crate) fn file_error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: 0,
            column: 0,
            field: None,
            message: message.into(),
        }
    }

    /// The field path at `offset`, found from the text around it: the key
    /// of its `key = value` line, prefixed by the table it sits in, e.g.
    /// `stream[1].rate`. Used for parse errors, which carry only a span.
    pub(crate) fn field_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset]
            .rfind('\n')
            .map(|index| index + 1)
            .unwrap_or(0);
        let line_end = self.text[offset..]
            .find('\n')
            .map(|index| offset + index)
            .unwrap_or(self.text.len());
        let line = &self.text[line_start..line_end];
        let key = line
            .split_once('=')
            .map(|(key, _)| key.trim().trim_matches('"').to_string());
        let table = self.table_at(line_start);
        match (table, key) {
            (Some(table), Some(key)) if !key.starts_with('[') => Some(format!("{table}.{key}")),
            (None, Some(key)) if !key.starts_with('[') => Some(key),
            (Some(table), _) => Some(table),
            _ => None,
        }
    }

    /// The table header in force at `offset`: `run`, or `stream[2]` for the
    /// third `[[stream]]`.
    fn table_at(&self, offset: usize) -> Option<String> {
        let mut current = None;
        let mut array_counts: Vec<(String, usize)> = Vec::new();
        let mut position = 0;
        for line in self.text.split_inclusive('\n') {
            if position > offset {
                break;
            }
            let trimmed = line.trim();
            if let Some(name) = trimmed
                .strip_prefix("[[")
                .and_then(|rest| rest.split("]]").next())
            {
                let name = name.trim().to_string();
                let index = match array_counts.iter_mut().find(|(known, _)| *known == name) {
                    Some((_, count)) => {
                        *count += 1;
                        *count - 1
                    }
                    None => {
                        array_counts.push((name.clone(), 1));
                        0
                    }
                };
                current = Some(format!("{name}[{index}]"));
            } else if let Some(name) = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.split(']').next())
            {
                current = Some(name.trim().to_string());
            }
            position += line.len();
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "[run]\nduration = \"5s\"\n\n[[stream]]\nname = \"a\"\n\n[[stream]]\nrate = \"x\"\n";

    #[test]
    fn lines_columns_and_fields() {
        let map = SourceMap::new("s.toml", TEXT);
        let offset = TEXT.find("\"x\"").expect("present");
        assert_eq!(map.line_column(offset), (8, 8));
        assert_eq!(map.field_at(offset).as_deref(), Some("stream[1].rate"));
        let duration = TEXT.find("\"5s\"").expect("present");
        assert_eq!(map.field_at(duration).as_deref(), Some("run.duration"));
        let error = map.error(offset..offset + 3, map.field_at(offset), "bad rate");
        assert_eq!(error.to_string(), "s.toml:8:8: stream[1].rate: bad rate");
    }
}
