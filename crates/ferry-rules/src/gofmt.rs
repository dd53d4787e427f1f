//! Numbers and strings printed as Go's `fmt` and `strconv` print them, because Prometheus'
//! templates and promtool's reports are Go output that rule files and tests compare against:
//! `%v` and `%g` of floats, `%E` of a sample, `strconv.Quote` of a label value, and `printf`.

use crate::template::Value;

/// `%v` of a float64: the shortest text that reads back, in exponent form below 1e-4 or from
/// 1e21 on.
pub fn float_v(v: f64) -> String {
    if let Some(special) = special(v) {
        return special.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    let (mantissa, exp) = split_exp(&format!("{v:e}"));
    if !(-4..21).contains(&exp) { go_exp(&mantissa, exp, 'e') } else { format!("{v}") }
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `1.5E+01`.
pub fn float_upper_e(v: f64) -> String {
    if let Some(special) = special(v) {
        return special.to_owned();
    }
    let (mantissa, exp) = split_exp(&format!("{v:e}"));
    go_exp(&mantissa, exp, 'E')
}

/// `%.{prec}g`: `prec` significant digits, trailing zeros dropped, exponent form when the
/// exponent is below -4 or at least `prec`.
pub fn float_g(v: f64, prec: usize) -> String {
    if let Some(special) = special(v) {
        return special.to_owned();
    }
    let prec = prec.max(1);
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    let (mantissa, exp) = split_exp(&format!("{:.*e}", prec - 1, v));
    if exp < -4 || exp >= prec as i32 {
        go_exp(&trim_zeros(&mantissa), exp, 'e')
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}"))
    }
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn split_exp(text: &str) -> (String, i32) {
    match text.split_once(['e', 'E']) {
        Some((mantissa, exp)) => (mantissa.to_owned(), exp.parse().unwrap_or(0)),
        None => (text.to_owned(), 0),
    }
}

fn go_exp(mantissa: &str, exp: i32, letter: char) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}{letter}{sign}{:02}", exp.unsigned_abs())
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text.to_owned() }
}

/// `strconv.Quote`: double quotes, Go's escapes for control characters.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %F %e %E %g %G %q %x %X %t %%`
/// with flags, width and precision. A verb that does not fit its argument prints as Go does,
/// `%!d(string=x)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut plus = false;
        let mut zero = false;
        let mut space = false;
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            precision = Some(digits.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let body = format_arg(verb, arg, precision, plus, space);
        let width: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if minus {
            out.push_str(&body);
            out.push_str(&" ".repeat(width - len));
        } else if zero && matches!(arg, Value::Int(_) | Value::Float(_)) {
            let (sign, digits) = match body.strip_prefix(['-', '+']) {
                Some(rest) => (&body[..1], rest),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&body);
        }
    }
    let extra: Vec<&Value> = args.collect();
    if !extra.is_empty() {
        out.push_str("%!(EXTRA ");
        let parts: Vec<String> = extra.iter().map(|v| format!("{}={}", v.go_type(), v.to_text())).collect();
        out.push_str(&parts.join(", "));
        out.push(')');
    }
    out
}

fn format_arg(verb: char, arg: &Value, precision: Option<usize>, plus: bool, space: bool) -> String {
    let signed = |text: String, negative: bool| {
        if negative {
            text
        } else if plus {
            format!("+{text}")
        } else if space {
            format!(" {text}")
        } else {
            text
        }
    };
    let bad = || format!("%!{verb}({}={})", arg.go_type(), arg.to_text());
    match (verb, arg) {
        ('v', Value::Float(v)) => signed(float_v(*v), v.is_sign_negative()),
        ('v' | 's', _) if !matches!(arg, Value::Float(_) | Value::Int(_)) || verb == 'v' => {
            let text = arg.to_text();
            match precision {
                Some(p) if verb == 's' => text.chars().take(p).collect(),
                _ => text,
            }
        }
        ('d', Value::Int(i)) => signed(i.to_string(), *i < 0),
        ('x', Value::Int(i)) => format!("{i:x}"),
        ('X', Value::Int(i)) => format!("{i:X}"),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('f' | 'F', Value::Float(v)) => {
            let p = precision.unwrap_or(6);
            signed(if let Some(s) = special(*v) { s.to_owned() } else { format!("{v:.p$}") }, v.is_sign_negative())
        }
        ('e' | 'E', Value::Float(v)) => {
            let p = precision.unwrap_or(6);
            let text = match special(*v) {
                Some(s) => s.to_owned(),
                None => {
                    let (mantissa, exp) = split_exp(&format!("{v:.p$e}"));
                    go_exp(&mantissa, exp, verb)
                }
            };
            signed(text, v.is_sign_negative())
        }
        ('g' | 'G', Value::Float(v)) => {
            let text = match precision {
                Some(p) => float_g(*v, if p == 0 { 1 } else { p }),
                None => float_v(*v),
            };
            signed(if verb == 'G' { text.to_uppercase() } else { text }, v.is_sign_negative())
        }
        ('q', Value::Str(s)) => quote(s),
        ('t', Value::Bool(b)) => b.to_string(),
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(float_v(1.0), "1");
        assert_eq!(float_v(0.1), "0.1");
        assert_eq!(float_v(1e21), "1e+21");
        assert_eq!(float_v(123_456_789.0), "123456789");
        assert_eq!(float_v(0.00001), "1e-05");
        assert_eq!(float_upper_e(1.0), "1E+00");
        assert_eq!(float_upper_e(0.0), "0E+00");
        assert_eq!(float_upper_e(15.0), "1.5E+01");
        assert_eq!(float_g(12345.678, 4), "1.235e+04");
        assert_eq!(float_g(1.5, 4), "1.5");
        assert_eq!(float_g(100.0, 4), "100");
        assert_eq!(float_g(0.0001234, 4), "0.0001234");
        assert_eq!(sprintf("%.2f", &[Value::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%.0f%%", &[Value::Float(99.5)]), "100%");
        assert_eq!(sprintf("%s is %d", &[Value::Str("x".into()), Value::Int(3)]), "x is 3");
        assert_eq!(sprintf("%d", &[Value::Float(3.0)]), "%!d(float64=3)");
        assert_eq!(sprintf("%5.1f|%-4s|", &[Value::Float(2.25), Value::Str("a".into())]), "  2.2|a   |");
    }
}
