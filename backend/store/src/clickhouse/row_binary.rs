//! Reading a `RowBinary` answer whose column types the query declared ([`crate::Column`]).
//!
//! `RowBinary` carries no types and no row ends: a `String` is its LEB128 length and its bytes,
//! an `Int64` eight little-endian bytes. The answer arrives in pieces that may cut a row anywhere,
//! so the reader keeps the cut row's start until the next piece completes it.

use std::borrow::Cow;

use crate::{CellRef, Column, Error, Result};

/// Hands each row of a `RowBinary` answer to a visitor, piece by piece.
#[derive(Debug)]
pub(super) struct RowBinaryRows {
    columns: Vec<Column>,
    /// The start of a row cut by the end of the last piece.
    partial: Vec<u8>,
}

/// One row read from `bytes`, or where that ran out.
enum Read {
    Row(usize),
    Cut,
}

impl RowBinaryRows {
    pub(super) fn new(columns: &[Column]) -> Self {
        Self {
            columns: columns.to_vec(),
            partial: Vec::new(),
        }
    }

    pub(super) fn feed(
        &mut self,
        piece: &[u8],
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<()> {
        if self.partial.is_empty() {
            let used = self.rows(piece, visit)?;
            self.partial.extend_from_slice(&piece[used..]);
        } else {
            // Joining the whole piece costs a copy of it, which is small beside reading it.
            let mut joined = std::mem::take(&mut self.partial);
            joined.extend_from_slice(piece);
            let used = self.rows(&joined, visit)?;
            joined.drain(..used);
            self.partial = joined;
        }
        Ok(())
    }

    /// The answer is whole: a row left cut means it ended early.
    pub(super) fn finish(self) -> Result<()> {
        if self.partial.is_empty() {
            Ok(())
        } else {
            Err(Error::Shape(format!(
                "ClickHouse's RowBinary answer ended inside a row ({} bytes left over); \
                 expected columns {:?}",
                self.partial.len(),
                self.columns
            )))
        }
    }

    /// Visits every whole row at the start of `bytes`; returns the bytes they took.
    fn rows(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(&[CellRef<'_>]) -> Result<()>,
    ) -> Result<usize> {
        let mut at = 0;
        let mut cells = Vec::with_capacity(self.columns.len());
        while at < bytes.len() {
            match read_row(&self.columns, bytes, at, &mut cells)? {
                Read::Row(end) => {
                    visit(&cells)?;
                    at = end;
                }
                Read::Cut => break,
            }
        }
        Ok(at)
    }
}

fn read_row<'b>(
    columns: &[Column],
    bytes: &'b [u8],
    mut at: usize,
    cells: &mut Vec<CellRef<'b>>,
) -> Result<Read> {
    cells.clear();
    for column in columns {
        match column {
            Column::Int => {
                let Some(value) = bytes.get(at..at + 8) else {
                    return Ok(Read::Cut);
                };
                let value: [u8; 8] = value.try_into().unwrap_or_else(|_| unreachable!());
                cells.push(CellRef::Int(i64::from_le_bytes(value)));
                at += 8;
            }
            Column::Text => {
                let Some((len, start)) = leb128(bytes, at)? else {
                    return Ok(Read::Cut);
                };
                let Some(text) = start.checked_add(len).and_then(|end| bytes.get(start..end))
                else {
                    return Ok(Read::Cut);
                };
                let text = std::str::from_utf8(text).map_err(|e| {
                    Error::Shape(format!(
                        "ClickHouse answered a String that is not UTF-8 in column {} ({e})",
                        cells.len() + 1
                    ))
                })?;
                cells.push(CellRef::Str(Cow::Borrowed(text)));
                at = start + len;
            }
        }
    }
    Ok(Read::Row(at))
}

/// A LEB128 length at `at`: the length and where its bytes start, `None` when cut.
fn leb128(bytes: &[u8], at: usize) -> Result<Option<(usize, usize)>> {
    let mut len: u64 = 0;
    for (i, &byte) in bytes.get(at..).unwrap_or_default().iter().enumerate() {
        if i == 9 {
            return Err(Error::Shape(
                "ClickHouse answered a String length of more than 9 LEB128 bytes".into(),
            ));
        }
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let len = usize::try_from(len).map_err(|_| {
                Error::Shape(format!("ClickHouse answered a String of {len} bytes"))
            })?;
            return Ok(Some((len, at + i + 1)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cell;

    const COLUMNS: [Column; 3] = [Column::Text, Column::Text, Column::Int];

    fn text(out: &mut Vec<u8>, s: &str) {
        let mut len = s.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(s.as_bytes());
    }

    fn answer(rows: &[(&str, &str, i64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (a, b, n) in rows {
            text(&mut out, a);
            text(&mut out, b);
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    fn read(pieces: &[&[u8]]) -> Result<Vec<Vec<Cell>>> {
        let mut rows = RowBinaryRows::new(&COLUMNS);
        let mut got = Vec::new();
        for piece in pieces {
            rows.feed(piece, &mut |cells| {
                got.push(cells.iter().map(CellRef::to_cell).collect());
                Ok(())
            })?;
        }
        rows.finish()?;
        Ok(got)
    }

    #[test]
    fn rows_cut_anywhere_are_joined() {
        // A 200-byte string has a two-byte length; "é" is two UTF-8 bytes.
        let long = "x".repeat(200);
        let bytes = answer(&[("a1", "", 17), (&long, "pro", -1), ("é", "", i64::MAX)]);
        let whole = read(&[&bytes]).unwrap();
        assert_eq!(
            whole,
            vec![
                vec![
                    Cell::Str("a1".into()),
                    Cell::Str(String::new()),
                    Cell::Int(17)
                ],
                vec![
                    Cell::Str(long.clone()),
                    Cell::Str("pro".into()),
                    Cell::Int(-1)
                ],
                vec![
                    Cell::Str("é".into()),
                    Cell::Str(String::new()),
                    Cell::Int(i64::MAX)
                ],
            ]
        );
        for i in 0..bytes.len() {
            for j in i..bytes.len() {
                let got = read(&[&bytes[..i], &bytes[i..j], &bytes[j..]]).unwrap();
                assert_eq!(got, whole, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn an_answer_that_ends_inside_a_row_is_an_error() {
        let bytes = answer(&[("a1", "", 17), ("b2", "", 18)]);
        for end in 1..bytes.len() {
            if end == bytes.len() / 2 {
                // A whole first row.
                assert_eq!(read(&[&bytes[..end]]).unwrap().len(), 1);
                continue;
            }
            let err = read(&[&bytes[..end]]).unwrap_err().to_string();
            assert!(err.contains("ended inside a row"), "{end}: {err}");
        }
    }

    #[test]
    fn a_string_that_is_not_utf8_is_named() {
        let mut bytes = Vec::new();
        text(&mut bytes, "ok");
        bytes.extend_from_slice(&[2, 0xff, 0xfe]);
        bytes.extend_from_slice(&5i64.to_le_bytes());
        let err = read(&[&bytes]).unwrap_err().to_string();
        assert!(err.contains("not UTF-8 in column 2"), "{err}");
        let err = read(&[&[0xff; 12]]).unwrap_err().to_string();
        assert!(err.contains("more than 9 LEB128 bytes"), "{err}");
    }
}
