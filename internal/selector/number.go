package selector

import "strconv"

// isNumber reports whether s is a decimal number: an optional sign, digits
// and an optional fraction ("2", "-1.5", ".5", "3."). Exponents,
// hexadecimal, underscores, "Inf" and "NaN" are not numbers here.
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	return digits > 0 && i == len(s)
}

// number parses s when it is a decimal number within the range of a
// float64.
func number(s string) (float64, bool) {
	if !isNumber(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// formatNumber is the canonical form of a number: the shortest decimal
// that reads back as f, with no exponent.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
