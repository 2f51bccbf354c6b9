package cli

import (
	"slices"
	"strings"
)

// lineSplitter cuts the output of many hosts' streams into whole lines. A
// piece of output may end in the middle of a line: the rest is kept, per
// host and stream, until its newline comes or the host's result says
// there is no more.
type lineSplitter struct {
	partial map[streamKey]string
}

type streamKey struct{ host, stream string }

// line is a line of one host's stream, without its newline.
type line struct {
	host, stream, text string
}

// write adds data of host's stream and returns the lines it completes.
func (s *lineSplitter) write(host, stream, data string) []line {
	if s.partial == nil {
		s.partial = map[streamKey]string{}
	}
	k := streamKey{host, stream}
	data = s.partial[k] + data
	var out []line
	for {
		i := strings.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		out = append(out, line{host, stream, strings.TrimSuffix(data[:i], "\r")})
		data = data[i+1:]
	}
	if data == "" {
		delete(s.partial, k)
	} else {
		s.partial[k] = data
	}
	return out
}

// flush returns what is left of host's streams, stdout first, as lines
// without a newline.
func (s *lineSplitter) flush(host string) []line {
	var out []line
	for _, stream := range []string{"stdout", "stderr"} {
		out = append(out, s.take(streamKey{host, stream})...)
	}
	for k := range s.partial {
		if k.host == host {
			out = append(out, s.take(k)...)
		}
	}
	return out
}

// flushAll returns what is left of every stream, by host and stream.
func (s *lineSplitter) flushAll() []line {
	hosts := map[string]bool{}
	var order []string
	for k := range s.partial {
		if !hosts[k.host] {
			hosts[k.host] = true
			order = append(order, k.host)
		}
	}
	slices.Sort(order)
	var out []line
	for _, h := range order {
		out = append(out, s.flush(h)...)
	}
	return out
}

func (s *lineSplitter) take(k streamKey) []line {
	rest, ok := s.partial[k]
	if !ok {
		return nil
	}
	delete(s.partial, k)
	return []line{{k.host, k.stream, strings.TrimSuffix(rest, "\r")}}
}
