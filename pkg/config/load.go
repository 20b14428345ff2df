package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path (none when path is ""), decodes it strictly
// over Default(), applies the RINGSIDE_* variables in env (as os.Environ
// gives them), reads *_file secrets and validates. It returns every problem
// at once, joined with errors.Join; the Config is only meaningful without
// error.
func Load(path string, env []string) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Config{}, err
		}
	}
	return Parse(data, env)
}

// Parse is Load on the file content data.
func Parse(data []byte, env []string) (Config, error) {
	l := loader{s: newSchema(), files: map[string]fileRef{}}
	c := Default()
	cv := reflect.ValueOf(&c).Elem()
	if err := l.decodeYAML(data, cv); err != nil {
		return Config{}, err
	}
	l.applyEnv(env, cv)
	l.readFiles(cv)
	c.fill()
	l.problems = append(l.problems, c.problems()...)
	if len(l.problems) > 0 {
		return Config{}, errors.Join(l.problems...)
	}
	return c, nil
}

// fileRef is where a secret is to be read from, and who said so.
type fileRef struct {
	path   string
	origin string // "line 12: pbx.asterisk.password_file" or "RINGSIDE_..._FILE"
}

type loader struct {
	s        *schema
	files    map[string]fileRef // by the key of the secret
	problems []error
}

func (l *loader) addf(format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf(format, args...))
}

// decodeYAML walks the document into cv, collecting problems. It returns an
// error only when the YAML cannot be parsed at all.
func (l *loader) decodeYAML(data []byte, cv reflect.Value) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil
	} else if err != nil {
		return yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.addf("line %d: only one YAML document is allowed", next.Line)
	} else if err != io.EOF {
		return yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	root = unalias(root)
	switch {
	case root.Kind == yaml.MappingNode:
		l.mapping(root, "", cv)
	case isNull(root):
	default:
		l.addf("line %d: cannot use %s as a mapping of keys", root.Line, describe(root))
	}
	// A secret and its file in the same source: ambiguous.
	for _, lf := range l.s.leaves {
		if lf.kind != kindSecret {
			continue
		}
		if ref, ok := l.files[lf.key]; ok && cv.FieldByIndex(lf.index).String() != "" {
			l.addf("%s: cannot be used together with %s", ref.origin, lf.key)
		}
	}
	return nil
}

// yamlError drops the "yaml: " prefix of a syntax error so that it reads
// like our own problems ("line 3: ...").
func yamlError(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

func (l *loader) mapping(n *yaml.Node, prefix string, cv reflect.Value) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], unalias(n.Content[i+1])
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if k.Tag == "!!merge" {
			l.addf("line %d: merge keys (<<) are not supported", k.Line)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.addf("line %d: duplicate key %s (first on line %d)", k.Line, key, first)
			continue
		}
		seen[k.Value] = k.Line
		if l.s.sections[key] {
			switch {
			case v.Kind == yaml.MappingNode:
				l.mapping(v, key, cv)
			case isNull(v):
			default:
				l.addf("line %d: %s: cannot use %s as a mapping", k.Line, key, describe(v))
			}
			continue
		}
		lf, ok := l.s.byKey[key]
		if !ok {
			l.addf("line %d: unknown key %s", k.Line, key)
			continue
		}
		if isNull(v) {
			continue // keeps its default
		}
		if v.Kind != yaml.ScalarNode {
			l.addf("line %d: %s: cannot use %s as %s", k.Line, key, describe(v), lf.kind.noun())
			continue
		}
		if lf.kind == kindSecretFile {
			if v.Value != "" {
				l.files[lf.secret] = fileRef{path: v.Value, origin: fmt.Sprintf("line %d: %s", k.Line, key)}
			}
			continue
		}
		if err := set(cv.FieldByIndex(lf.index), lf.kind, v.Value); err != nil {
			l.addf("line %d: %s: cannot use %q as %s", k.Line, key, v.Value, lf.kind.noun())
		}
	}
}

func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names a value in a type error without dumping a whole mapping.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	default:
		return strconv.Quote(n.Value)
	}
}

func (k kind) noun() string {
	switch k {
	case kindInt:
		return "a number"
	case kindDuration:
		return "a duration"
	default:
		return "a string"
	}
}

var (
	errNotNumber   = errors.New("not a number")
	errNotDuration = errors.New("not a duration")
)

// set stores the text s into the field f of kind k.
func set(f reflect.Value, k kind, s string) error {
	switch k {
	case kindInt:
		n, err := strconv.ParseInt(s, 0, strconv.IntSize)
		if err != nil {
			return errNotNumber
		}
		f.SetInt(n)
	case kindDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errNotDuration
		}
		f.SetInt(int64(d))
	default:
		f.SetString(s)
	}
	return nil
}

// applyEnv applies the RINGSIDE_* entries of env ("NAME=value"), in name
// order; unknown names and unparsable values are problems.
func (l *loader) applyEnv(env []string, cv reflect.Value) {
	vars := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RINGSIDE_") {
			vars[name] = value // the last one wins, as with getenv
		}
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		value := vars[name]
		lf, ok := l.s.byEnv[name]
		if !ok {
			l.addf("%s: unknown variable", name)
			continue
		}
		switch lf.kind {
		case kindSecret:
			if file, both := vars[name+"_FILE"]; both && file != "" {
				l.addf("%s_FILE: cannot be used together with %s", name, name)
				continue
			}
			delete(l.files, lf.key)
			cv.FieldByIndex(lf.index).SetString(value)
		case kindSecretFile:
			if _, both := vars[envName(lf.secret)]; both {
				continue // reported with the secret itself
			}
			delete(l.files, lf.secret)
			if value != "" {
				l.files[lf.secret] = fileRef{path: value, origin: name}
				cv.FieldByIndex(lf.index).SetString("")
			}
		default:
			if err := set(cv.FieldByIndex(lf.index), lf.kind, value); err != nil {
				l.addf("%s: %q is %s", name, value, err)
			}
		}
	}
}

// readFiles fills every secret that names a file with the file's content,
// trailing newlines trimmed.
func (l *loader) readFiles(cv reflect.Value) {
	for _, lf := range l.s.leaves {
		ref, ok := l.files[lf.key]
		if lf.kind != kindSecret || !ok {
			continue
		}
		b, err := os.ReadFile(ref.path)
		if err != nil {
			if pe, ok := errors.AsType[*fs.PathError](err); ok {
				err = pe.Err
			}
			l.addf("%s: cannot read %q: %v", ref.origin, ref.path, err)
			continue
		}
		cv.FieldByIndex(lf.index).SetString(strings.TrimRight(string(b), "\r\n"))
	}
}

// fill derives the values whose default depends on others: node_id from the
// host name, http.public_url from http.listen.
func (c *Config) fill() {
	if c.NodeID == "" {
		c.NodeID = hostNodeID()
	}
	if c.HTTP.PublicURL == "" && c.HTTP.Listen != "" {
		host, port, err := net.SplitHostPort(c.HTTP.Listen)
		if err == nil && host == "" {
			host = "localhost"
		}
		if err == nil {
			c.HTTP.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
}
