package config

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// iniFile is the text of a configuration file split into sections and keys,
// each with its line. It is read in one linear pass (ini.v1 checks every new
// key against a slice of the section's keys, quadratic in the keys of a
// section, and silently merges repeated sections and keys).
//
// The syntax is Pegasus's (rDSN utils/configuration.cpp): "[name]" starts a
// section, "key = value" sets a key, '#' or ';' anywhere starts a comment,
// keys and values are trimmed. Unlike Pegasus, which keeps the first of two
// settings of a key with a warning, a repeated key or section is an error:
// a copy-paste must not silently redirect writes.
type iniFile struct {
	sections []*iniSection // in file order; the first is the default section
	byName   map[string]*iniSection
}

type iniSection struct {
	name  string
	line  int // 0 for the default section
	keys  []iniKey
	index map[string]int // key name → position in keys
}

type iniKey struct {
	name, value string
	line        int
}

// has reports whether key is set, and its value (trimmed).
func (s *iniSection) get(key string) (string, bool) {
	if s == nil {
		return "", false
	}
	i, ok := s.index[key]
	if !ok {
		return "", false
	}
	return s.keys[i].value, true
}

// keyLine is the line of key, or the section's line when key is not set.
func (s *iniSection) keyLine(key string) int {
	if i, ok := s.index[key]; ok {
		return s.keys[i].line
	}
	return s.line
}

// defaultSection names the keys before any section header.
const defaultSection = "DEFAULT"

// ctxCheckLines is how often (in lines) scanning looks at its context.
const ctxCheckLines = 1 << 12

// scanINI splits data into sections and keys. Syntax errors and repeated
// sections or keys are reported to p; scanning stops early only when ctx
// ends.
func scanINI(ctx context.Context, data []byte, p *parser) (*iniFile, error) {
	def := &iniSection{name: defaultSection, index: map[string]int{}}
	f := &iniFile{sections: []*iniSection{def}, byName: map[string]*iniSection{defaultSection: def}}
	cur := def
	// One copy of the text: names and values are substrings of it.
	text := strings.TrimPrefix(string(data), "\xef\xbb\xbf") // a UTF-8 byte order mark, as editors on Windows write
	for n := 1; len(text) > 0; n++ {
		if n%ctxCheckLines == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("config: reading line %d: %w", n, err)
			}
		}
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if !utf8.ValidString(line) || strings.IndexByte(line, 0) >= 0 {
			p.add(Problem{Line: n, Msg: fmt.Sprintf("not text (binary data?): %q", clip(line, 40))})
			continue
		}
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		s := strings.TrimSpace(line)
		switch {
		case s == "":
		case s[0] == '[':
			cur = f.section(s, n, p)
		default:
			f.key(cur, s, n, p)
		}
	}
	return f, nil
}

// section handles the header s on line n and returns the section that
// following keys go to.
func (f *iniFile) section(s string, n int, p *parser) *iniSection {
	name, ok := strings.CutSuffix(s, "]")
	name = strings.TrimSpace(name[1:])
	sec := &iniSection{name: name, line: n, index: map[string]int{}}
	switch {
	case !ok || name == "" || strings.ContainsAny(name, "[]"):
		p.add(Problem{Line: n, Msg: fmt.Sprintf("not a section header %q: want [name]", s)})
	case f.byName[name] != nil:
		first := f.byName[name]
		p.add(Problem{Line: n, Section: name, Msg: fmt.Sprintf(
			"section repeated (first at line %d): sections are never merged; merge them or rename one", first.line)})
	default:
		f.byName[name] = sec
		f.sections = append(f.sections, sec)
	}
	// Keys of a bad or repeated header are still checked for syntax, but
	// belong to no section that validation reads.
	return sec
}

// key handles the "key = value" text s on line n of sec.
func (f *iniFile) key(sec *iniSection, s string, n int, p *parser) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		p.add(Problem{Line: n, Section: sec.name, Msg: fmt.Sprintf("%q: want key = value", s)})
		return
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if i, dup := sec.index[k]; dup {
		p.add(Problem{Line: n, Section: sec.name, Key: k, Msg: fmt.Sprintf(
			"key repeated (first at line %d): each key may be set once", sec.keys[i].line)})
		return
	}
	sec.index[k] = len(sec.keys)
	sec.keys = append(sec.keys, iniKey{name: k, value: v, line: n})
}

// clip returns at most n bytes of b, for quoting in a message.
func clip(b string, n int) string {
	if len(b) > n {
		return b[:n]
	}
	return b
}
