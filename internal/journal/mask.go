package journal

// Masked replaces the value of a secret parameter.
const Masked = "********"

// Mask returns a copy of params in which the value of every key for which
// secret returns true is Masked, whatever it was (even empty: the length of
// a secret is not recorded either). It returns nil for an empty params and
// never changes params itself.
func Mask(params map[string]string, secret func(key string) bool) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		if secret(k) {
			v = Masked
		}
		out[k] = v
	}
	return out
}
