package config

import (
	"reflect"
	"strings"
	"time"
)

// kind is what a leaf key holds.
type kind int

const (
	kindString kind = iota
	kindSecret
	kindSecretFile // x_file of a secret x: a path, resolved into the secret
	kindInt
	kindDuration
)

// leaf is one settable key of Config.
type leaf struct {
	key    string // dotted path: pbx.asterisk.url
	env    string // RINGSIDE_PBX_ASTERISK_URL
	index  []int  // reflect field index from Config
	kind   kind
	secret string // kindSecretFile: the key of the secret it fills
}

// schema is every key of Config, derived once per load from the yaml tags.
// It is the one place that knows the mapping between keys, environment
// variables and struct fields.
type schema struct {
	leaves   []leaf // in struct order
	byKey    map[string]*leaf
	byEnv    map[string]*leaf
	sections map[string]bool // dotted paths of nested mappings
}

// EnvKeys returns every RINGSIDE_* variable Load and Parse understand, in
// the order of the keys in the file.
func EnvKeys() []string {
	s := newSchema()
	out := make([]string, len(s.leaves))
	for i, l := range s.leaves {
		out[i] = l.env
	}
	return out
}

// envName is the variable that overrides a dotted key.
func envName(key string) string {
	return "RINGSIDE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func newSchema() *schema {
	s := &schema{
		byKey:    map[string]*leaf{},
		byEnv:    map[string]*leaf{},
		sections: map[string]bool{},
	}
	s.walk(reflect.TypeFor[Config](), "", nil)
	for i := range s.leaves {
		l := &s.leaves[i]
		s.byKey[l.key] = l
		s.byEnv[l.env] = l
	}
	return s
}

func (s *schema) walk(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		idx := append(append([]int(nil), index...), i)
		add := func(k kind, key, secret string) {
			s.leaves = append(s.leaves, leaf{key: key, env: envName(key), index: idx, kind: k, secret: secret})
		}
		switch {
		case f.Type == durationType:
			add(kindDuration, key, "")
		case f.Type == secretType:
			add(kindSecret, key, "")
			add(kindSecretFile, key+"_file", key)
		case f.Type.Kind() == reflect.String:
			add(kindString, key, "")
		case f.Type.Kind() == reflect.Int:
			add(kindInt, key, "")
		case f.Type.Kind() == reflect.Struct:
			s.sections[key] = true
			s.walk(f.Type, key, idx)
		default:
			panic("config: unsupported type " + f.Type.String() + " of " + key)
		}
	}
}
