//! What a product costs: `price = "19.00"` and `currency = "USD"` in site.toml. A price is a
//! decimal string, never a TOML number: a float cannot hold money exactly, and a bare integer
//! would leave open whether `19` means units or cents. It is kept in the currency's minor units
//! (cents), as Stripe counts them, so every sum made of it is exact.

use std::fmt;

use toml::Value;

/// The largest whole amount a price may have: far above any membership, and low enough that
/// sums over every member of a site cannot overflow.
const MAX_UNITS: u64 = 1_000_000_000;

/// A product's price, in the minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub minor: u64,
    pub currency: Currency,
}

/// An ISO 4217 currency: its code and how many decimals its minor unit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Currencies with no minor unit, and those with three decimals (ISO 4217); every other code
/// has two. `CLF` and `UYW` (units of account with four) are left out: nobody sells in them.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// The ISO 4217 codes of money in circulation (funds, metals and test codes left out).
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

impl Currency {
    /// An ISO 4217 code, in either case (Stripe writes `usd`).
    pub fn parse(text: &str) -> Result<Currency, String> {
        let upper = text.trim().to_ascii_uppercase();
        let Some(known) = CODES.iter().find(|code| **code == upper) else {
            return Err(format!(
                "currency `{text}` is not an ISO 4217 code such as `USD` or `EUR`{}",
                near(&upper).map_or(String::new(), |code| format!(" (did you mean `{code}`?)"))
            ));
        };
        let exponent = if ZERO_DECIMALS.contains(known) {
            0
        } else if THREE_DECIMALS.contains(known) {
            3
        } else {
            2
        };
        let bytes = known.as_bytes();
        Ok(Currency {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent,
        })
    }

    pub fn code(&self) -> &str {
        // Only codes from CODES are ever stored, all ASCII.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// How many decimals the minor unit has: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        u32::from(self.exponent)
    }

    /// `minor` units as the currency writes them: `1234567` USD is "12,345.67".
    pub fn format(&self, minor: u128) -> String {
        let scale = 10u128.pow(self.exponent());
        let whole = (minor / scale).to_string();
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if self.exponent == 0 {
            grouped
        } else {
            let width = self.exponent as usize;
            format!("{grouped}.{:0width$}", minor % scale)
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// site.toml's `price` value: a decimal string with at most the currency's decimals.
pub fn parse_price(value: &Value, currency: Currency) -> Result<u64, String> {
    let example = example(currency);
    let text = match value {
        Value::String(text) => text,
        Value::Float(_) => {
            return Err(format!(
                "write the price as a decimal string in quotes, e.g. price = \"{example}\": \
                 a TOML number with a point is a float, which cannot hold money exactly"
            ));
        }
        Value::Integer(_) => {
            return Err(format!(
                "write the price as a decimal string in quotes, e.g. price = \"{example}\" \
                 (a bare number would leave open whether it counts units or cents)"
            ));
        }
        _ => {
            return Err(format!(
                "the price must be a decimal string, e.g. price = \"{example}\""
            ));
        }
    };
    let bad = || {
        let decimals = match currency.exponent() {
            0 => format!("no decimals ({currency} has no minor unit)"),
            n => format!("at most {n} decimals"),
        };
        format!("price `{text}` is not an amount: write digits with {decimals}, e.g. \"{example}\"")
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || (text.contains('.') && fraction.is_empty())
        || fraction.len() > currency.exponent() as usize
    {
        return Err(bad());
    }
    let units: u64 = whole.parse().map_err(|_| bad())?;
    if units > MAX_UNITS {
        return Err(format!(
            "price `{text}` is more than {MAX_UNITS} {currency}: write the price of one payment"
        ));
    }
    let scale = 10u64.pow(currency.exponent());
    let padded = format!("{fraction:0<width$}", width = currency.exponent() as usize);
    let cents: u64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| bad())?
    };
    Ok(units * scale + cents)
}

/// A code one typo away: two letters swapped, or one letter wrong. (Edit distance alone
/// finds a dozen codes within two edits of any three letters.)
fn near(typed: &str) -> Option<&'static str> {
    let sorted = |code: &str| {
        let mut letters: Vec<u8> = code.bytes().collect();
        letters.sort_unstable();
        letters
    };
    let mismatches = |code: &str| {
        code.bytes()
            .zip(typed.bytes())
            .filter(|(a, b)| a != b)
            .count()
    };
    if typed.len() != 3 {
        return None;
    }
    CODES
        .iter()
        .find(|code| sorted(code) == sorted(typed))
        .or_else(|| CODES.iter().find(|code| mismatches(code) == 1))
        .copied()
}

fn example(currency: Currency) -> String {
    currency.format(19 * 10u128.pow(currency.exponent()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn text(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    #[test]
    fn decimal_strings_become_minor_units() {
        assert_eq!(parse_price(&text("19.00"), usd()), Ok(1900));
        assert_eq!(parse_price(&text("19.5"), usd()), Ok(1950));
        assert_eq!(parse_price(&text("19"), usd()), Ok(1900));
        assert_eq!(parse_price(&text("0"), usd()), Ok(0));
        let yen = Currency::parse("jpy").unwrap();
        assert_eq!(parse_price(&text("500"), yen), Ok(500));
        let dinar = Currency::parse("KWD").unwrap();
        assert_eq!(parse_price(&text("1.250"), dinar), Ok(1250));
    }

    #[test]
    fn floats_integers_negatives_and_garbage_are_refused_with_an_example() {
        for bad in [
            Value::Float(19.99),
            Value::Integer(19),
            Value::Boolean(true),
            text("-5"),
            text("-5.00"),
            text("19.999"),
            text("19."),
            text(".5"),
            text("1e3"),
            text("19,00"),
            text("$19"),
            text(" 19"),
            text(""),
            text("1_000"),
            text("99999999999999999999"),
            text("1000000001"),
        ] {
            let error = parse_price(&bad, usd()).unwrap_err();
            assert!(
                error.contains("e.g. ") || error.contains("more than"),
                "{bad:?}: {error}"
            );
        }
        let yen = Currency::parse("JPY").unwrap();
        let error = parse_price(&text("500.5"), yen).unwrap_err();
        assert!(error.contains("JPY has no minor unit"), "{error}");
        assert!(
            parse_price(&Value::Float(9.5), usd())
                .unwrap_err()
                .contains("float")
        );
    }

    #[test]
    fn currencies_are_iso_codes_in_either_case() {
        assert_eq!(Currency::parse("usd").unwrap().code(), "USD");
        assert_eq!(Currency::parse("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        let error = Currency::parse("UDS").unwrap_err();
        assert!(error.contains("USD"), "{error}");
        for bad in ["US", "DOLLAR", "", "XXX", "€"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_written_with_the_currency_decimals_and_grouped() {
        assert_eq!(usd().format(1_234_567), "12,345.67");
        assert_eq!(usd().format(5), "0.05");
        assert_eq!(usd().format(100_000), "1,000.00");
        assert_eq!(
            Currency::parse("JPY").unwrap().format(1_500_000),
            "1,500,000"
        );
        assert_eq!(Currency::parse("KWD").unwrap().format(1250), "1.250");
    }
}
