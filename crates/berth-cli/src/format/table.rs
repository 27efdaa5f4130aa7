//! Elastic tabstops, as Go's text/tabwriter aligns docker's output: a cell ends at a tab;
//! adjacent lines that have a cell in the same column form a block, and the block is as
//! wide as its widest cell plus padding, never under the minimum width. The text after a
//! line's last tab is not a cell and never widens a column.

/// Docker's list tables: minimum width 10, padding 3.
pub fn align(text: &str) -> String {
    align_with(text, 10, 3)
}

/// Aligns tab-separated `text` (lines ending in '\n') into columns.
pub fn align_with(text: &str, min_width: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text
        .split_terminator('\n')
        .map(|line| line.split('\t').collect())
        .collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut layout = Layout {
        min_width,
        padding,
        widths: Vec::new(),
    };
    layout.format_block(&lines, &mut out);
    out
}

struct Layout {
    min_width: usize,
    padding: usize,
    /// Widths of the columns of the block being laid out.
    widths: Vec<usize>,
}

fn display_width(cell: &str) -> usize {
    cell.chars().count()
}

impl Layout {
    /// Lays out `lines`, all of which share the column widths already known; recurses into
    /// each run of lines that has one more column.
    fn format_block(&mut self, lines: &[Vec<&str>], out: &mut String) {
        let column = self.widths.len();
        let mut start = 0;
        let mut index = 0;
        while index < lines.len() {
            if lines[index].len() <= column + 1 {
                index += 1;
                continue;
            }
            self.write_lines(&lines[start..index], out);
            let block_start = index;
            let mut width = self.min_width;
            while index < lines.len() && lines[index].len() > column + 1 {
                width = width.max(display_width(lines[index][column]) + self.padding);
                index += 1;
            }
            self.widths.push(width);
            self.format_block(&lines[block_start..index], out);
            self.widths.pop();
            start = index;
        }
        self.write_lines(&lines[start..], out);
    }

    fn write_lines(&self, lines: &[Vec<&str>], out: &mut String) {
        for line in lines {
            for (column, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if let Some(width) = self.widths.get(column) {
                    let pad = width.saturating_sub(display_width(cell));
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_widest_cell_plus_three_with_minimum_ten() {
        let text = "CONTAINER ID\tIMAGE\tNAMES\n15f071575ca6\tbusybox\tweb\n";
        assert_eq!(
            align(text),
            "CONTAINER ID   IMAGE     NAMES\n15f071575ca6   busybox   web\n"
        );
    }

    #[test]
    fn last_cell_does_not_widen_its_column() {
        let text = "A\tB\nx\ta-very-long-last-cell\n";
        assert_eq!(
            align(text),
            "A         B\nx         a-very-long-last-cell\n"
        );
    }

    #[test]
    fn empty_cells_still_take_the_minimum_width() {
        let text = "STATUS\tPORTS\tNAMES\nUp 2 minutes\t\tweb\n";
        assert_eq!(
            align(text),
            "STATUS         PORTS     NAMES\nUp 2 minutes             web\n"
        );
    }

    #[test]
    fn a_line_without_tabs_ends_the_column_block() {
        let text = "a\tb\nplain line\nlonger cell here\tc\n";
        assert_eq!(
            align(text),
            "a         b\nplain line\nlonger cell here   c\n"
        );
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let text = "\"sh -c 'while true; …\"\tx\nab\ty\n";
        assert_eq!(
            align(text),
            "\"sh -c 'while true; …\"   x\nab                       y\n"
        );
    }

    #[test]
    fn custom_minimum_and_padding() {
        let text = " Version:\t1\n API version:\t2\n";
        assert_eq!(
            align_with(text, 20, 1),
            " Version:           1\n API version:       2\n"
        );
        assert_eq!(align_with(text, 0, 1), " Version:     1\n API version: 2\n");
    }

    #[test]
    fn text_without_trailing_newline_is_terminated() {
        assert_eq!(align("a\tb"), "a         b\n");
    }
}
