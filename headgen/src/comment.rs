// SPDX-License-Identifier: MIT
//! C comments in Xen's style, from doc text: `/*`, ` * ...`, ` */`, or one line
//! `/* ... */` when the text fits on it, always within Xen's 80 columns.
//!
//! The doc text is Markdown: a code span (`` `long kexec_op(unsigned int cmd, void *arg)` ``)
//! loses its backticks, since a C comment is not Markdown and Xen's name identifiers
//! bare, and is never broken across lines.

/// The widest line the header may have: Xen's public headers keep to 80 columns.
pub(crate) const MAX_COLUMNS: usize = 80;

/// The comment lines for `text`, indented by `indent`.
///
/// `text` is prose, re-wrapped to fit, in which a line starting with `- ` begins a list
/// item (the Markdown list of a doc comment): each item starts a new line, and its
/// continuation is indented under the item's text.
pub(crate) fn lines(text: &str, indent: &str) -> Vec<String> {
    let one = format!("{indent}/* {} */", words(text).join(" "));
    if !text.contains("\n- ") && !text.starts_with("- ") && width(&one) <= MAX_COLUMNS {
        return vec![one];
    }
    let prefix = format!("{indent} * ");
    let room = MAX_COLUMNS - width(&prefix);
    let mut out = vec![format!("{indent}/*")];
    for (i, block) in blocks(text).into_iter().enumerate() {
        if i == 0 && !block.starts_with("- ") {
            out.extend(
                wrap(&block, room)
                    .into_iter()
                    .map(|l| format!("{prefix}{l}")),
            );
        } else {
            let item = block.strip_prefix("- ").unwrap_or(&block);
            for (j, l) in wrap(item, room - 2).into_iter().enumerate() {
                let bullet = if j == 0 { "- " } else { "  " };
                out.push(format!("{prefix}{bullet}{l}"));
            }
        }
    }
    out.push(format!("{indent} */"));
    out
}

fn width(line: &str) -> usize {
    line.chars().count()
}

/// The words of `text`: split at whitespace outside code spans; a code span, without
/// its backticks, is one word.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => in_code = !in_code,
            c if c.is_whitespace() && !in_code => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c if c.is_whitespace() => {
                if !word.ends_with(' ') {
                    word.push(' ');
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The lead paragraph and each list item, in order, each on one line.
fn blocks(text: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        match blocks.last_mut() {
            Some(last) if !line.starts_with("- ") => {
                last.push(' ');
                last.push_str(line);
            }
            _ => blocks.push(line.to_owned()),
        }
    }
    blocks
}

/// `text`'s words in lines of at most `room` characters, filled greedily; a word longer
/// than `room` gets a line of its own and is never split.
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in words(text) {
        if !line.is_empty() && width(&line) + 1 + width(&word) > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_a_one_line_comment() {
        assert_eq!(lines("Which image.", "    "), ["    /* Which image. */"]);
        assert_eq!(lines("Two\nlines.", ""), ["/* Two lines. */"]);
    }

    #[test]
    fn longer_text_is_a_block_filled_to_80_columns_with_its_indentation() {
        let text = "word ".repeat(40);
        let out = lines(&text, "    ");
        assert_eq!(out.first().map(String::as_str), Some("    /*"));
        assert_eq!(out.last().map(String::as_str), Some("     */"));
        // "     * " (7) + 14 words and their spaces (69) = 76; a 15th would make 81.
        assert_eq!(out[1].len(), 76, "{out:#?}");
        assert!(out.iter().all(|l| l.len() <= MAX_COLUMNS), "{out:#?}");
        let kept = out
            .iter()
            .flat_map(|l| l.split_whitespace())
            .filter(|w| *w == "word");
        assert_eq!(kept.count(), 40, "no word lost");
    }

    #[test]
    fn list_items_start_lines_and_their_continuations_hang() {
        let text = format!("The state:\n- one CPU;\n- {}\n  end.", "long ".repeat(20));
        let out = lines(&text, "");
        assert_eq!(out[1], " * The state:");
        assert_eq!(out[2], " * - one CPU;");
        assert!(out[3].starts_with(" * - long long"), "{out:#?}");
        assert!(out[4].starts_with(" *   long"), "{out:#?}");
        assert!(out[out.len() - 2].ends_with(" end."), "{out:#?}");
        assert!(out.iter().all(|l| l.len() <= MAX_COLUMNS), "{out:#?}");
    }

    #[test]
    fn a_code_span_loses_its_backticks_and_is_never_broken() {
        let text = format!(
            "{} `long kexec_op(unsigned int cmd, void *arg)`.",
            "word ".repeat(12)
        );
        let out = lines(&text, "");
        assert_eq!(
            out[2], " * long kexec_op(unsigned int cmd, void *arg).",
            "{out:#?}"
        );
        assert_eq!(lines("Takes `type`.", ""), ["/* Takes type. */"]);
    }

    #[test]
    fn a_word_wider_than_the_room_gets_its_own_line() {
        assert_eq!(
            wrap("a XEN_GUEST_HANDLE(xen_kexec_segment_t) b c", 10),
            ["a", "XEN_GUEST_HANDLE(xen_kexec_segment_t)", "b c"]
        );
    }
}
