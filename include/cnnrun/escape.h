/* escape.h — names from outside cnnrun (file names, paths: any bytes but
 * NUL) printed so that the output stays what it claims to be: valid JSON,
 * one line of text per name. */
#ifndef CNNRUN_ESCAPE_H
#define CNNRUN_ESCAPE_H

#include <stdio.h>

/* s as a JSON string, quotes included: `"` and `\` escaped, control
 * characters (and DEL) as \n, \t, \r or \u00XX, valid UTF-8 copied, and each
 * byte that is not part of a valid UTF-8 sequence (a stray continuation byte,
 * 0xff, an overlong form, a surrogate) as \ufffd, the replacement character.
 * So the output is valid JSON (RFC 8259) whatever s holds. */
void json_put_string(FILE *f, const char *s);

/* s for a line of text: as it is when it holds no control character (or
 * DEL); else in double quotes with C escapes (\n, \t, \r, \", \\, \xHH), so
 * that a name with a newline cannot look like two lines. */
void text_put_name(FILE *f, const char *s);
/* s as one word a shell reads back: as it is when it holds no character a
 * shell treats specially, else in single quotes (for the hints' commands). */
void shell_put_word(FILE *f, const char *s);

/* The offset of the first byte of s that is not part of valid UTF-8 (a
 * byte json_put_string would write as \ufffd), or -1 when s is valid UTF-8. */
long utf8_invalid_at(const char *s);

#endif
