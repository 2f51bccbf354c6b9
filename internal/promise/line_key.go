package promise

var (
	_ Keyed      = (*Line)(nil)
	_ Serializer = (*Line)(nil)
)

// Key tells apart line promises on one file: by their match, else their
// text. "line:/etc/sysctl.conf" in a reference names all of them.
func (l *Line) Key() string {
	if l.Match != "" {
		return l.Match
	}
	return l.Text
}

// SerialKey makes the edits of one file run one at a time, each reading
// what the one before it wrote.
func (l *Line) SerialKey() string { return "edit:" + l.Path }
