package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxJSONDepth bounds the nesting of request bodies; no fieldsync document
// needs more, and deep nesting is a cheap way to burn CPU.
const MaxJSONDepth = 32

// DecodeJSON reads one JSON value into dst (a pointer) strictly, as every
// input is read: valid UTF-8; no key twice in an object, at any depth (Go's
// decoder would let the last one win); no key that matches a field of dst
// only when case is ignored (Go's decoder would take "LOGIN" for "login");
// no unknown fields; no keys that start with "$" (MongoDB operators) or
// hold NUL; at most MaxJSONDepth levels; nothing after the value; then
// CleanText on what was decoded. Errors are EINVALID with the field and a
// reason in the details.
func DecodeJSON(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return Errorf(EINVALID, "request body must be UTF-8").With("reason", "invalid_utf8")
	}
	if err := checkKeys(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	return decodeChecked(body, dst)
}

// decodeChecked is DecodeJSON after the checks of the keys.
func decodeChecked(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(EINVALID, "request body must be a single JSON value")
	}
	return CleanText(dst)
}

// DecodeJSONExtra is DecodeJSON for an object a newer client may extend
// (a sync operation's payload): top-level fields that dst does not name
// are not refused but returned, raw and compacted, for the caller to keep.
// Everything else is as strict: a key that names a field of dst only when
// case is ignored, a key twice, "$" and NUL in keys, depth; the known
// fields decode strictly, their objects included. Keys holding "." are
// refused in the extra fields, at any depth, as "$" ones are: a stored
// document could not keep them.
func DecodeJSONExtra(body []byte, dst any) (extra map[string]json.RawMessage, err error) {
	if !utf8.Valid(body) {
		return nil, Errorf(EINVALID, "request body must be UTF-8").With("reason", "invalid_utf8")
	}
	unknown, err := checkKeysTop(body, reflect.TypeOf(dst))
	if err != nil {
		return nil, err
	}
	if !unknown { // the usual case: read once
		return nil, decodeChecked(body, dst)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, jsonError(err)
	}
	fields := fieldsOf(reflect.TypeOf(dst))
	for k, v := range top {
		if _, ok := fields[k]; ok {
			continue
		}
		if err := checkDots(k, v); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, jsonError(err)
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[k] = b.Bytes()
		delete(top, k)
	}
	if body, err = json.Marshal(top); err != nil {
		return nil, Errorf(EINVALID, "malformed JSON")
	}
	if err := decodeChecked(body, dst); err != nil { // its keys were checked above
		return nil, err
	}
	return extra, nil
}

// checkDots refuses a key holding "." in the field key: value, at any depth.
func checkDots(key string, value json.RawMessage) error {
	if strings.Contains(key, ".") {
		return FieldError(key, "field names may not contain a dot: %q", key).With("reason", "dotted_key")
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	var objs []bool // per open container: is it an object
	wantKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // syntax errors are the decoder's to report
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				objs = append(objs, v == '{')
				wantKey = v == '{'
				continue
			default:
				objs = objs[:len(objs)-1]
			}
		case string:
			if wantKey {
				if strings.Contains(v, ".") {
					return FieldError(key, "field names may not contain a dot: %q", v).With("reason", "dotted_key")
				}
				wantKey = false
				continue
			}
		}
		// A value ended: in an object, a key comes next.
		wantKey = len(objs) > 0 && objs[len(objs)-1]
	}
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(EINVALID, "malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(EINVALID, "malformed JSON: unexpected end")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return Errorf(EINVALID, "request body must be a JSON %s", jsonType(typ.Type.Kind().String()))
		}
		return FieldError(field, "%s must be %s, not %s", field, jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return FieldError(name, "unknown field %q", name)
	}
	return Errorf(EINVALID, "malformed JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "of another type"
}

var (
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	rawJSONType     = reflect.TypeOf(json.RawMessage{})
)

// fieldsOf is the JSON names of a struct type's fields, with the type of
// each, embedded structs' fields promoted as encoding/json does; nil when
// t is not a struct decoded field by field (a map, any, raw JSON, a type
// with its own UnmarshalJSON), so its keys are not checked for case.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	out := map[string]reflect.Type{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				add(ft)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup { // the shallower field wins
				out[name] = f.Type
			}
		}
	}
	add(t)
	return out
}

// elemOf is the type of a container's elements (nil when unknown).
func elemOf(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return t.Elem()
	}
	return nil
}

// checkKeys walks the JSON tokens with the Go type each value decodes
// into, and refuses keys that start with "$" or contain NUL, a key twice
// in one object, a key that names a field of the type only when case is
// ignored, and nesting deeper than MaxJSONDepth. Inside raw JSON (a sync
// operation's payload) only operator keys and depth are checked here: its
// owner reads it with DecodeJSON, so a bad payload rejects its operation,
// not the whole request. Syntax errors are left for the real decoder to
// report.
func checkKeys(body []byte, t reflect.Type) error {
	_, err := checkKeysTop(body, t)
	return err
}

// checkKeysTop is checkKeys, and reports whether the top-level object has
// a key that names no field of t.
func checkKeysTop(body []byte, t reflect.Type) (unknownTop bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		obj, wantKey bool
		fields       map[string]reflect.Type // struct objects: the fields by JSON name
		typ          reflect.Type            // this container's Go type, nil when unknown
		seen         map[string]bool
		raw          bool         // inside raw JSON: its owner decodes it with DecodeJSON
		child        reflect.Type // the type of the value about to come
		index        int          // arrays: the next element's index
	}
	var stack []*frame
	var path []string
	next := t // the type of the next value
	valueDone := func() {
		if n := len(stack); n > 0 {
			if top := stack[n-1]; top.obj {
				top.wantKey = true
				path = path[:len(path)-1]
			} else {
				top.index++
				path[len(path)-1] = "[" + strconv.Itoa(top.index) + "]"
			}
		}
	}
	where := func(key string) string {
		var b strings.Builder
		for _, p := range path {
			if !strings.HasPrefix(p, "[") && b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
		if key != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
		}
		return b.String()
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return unknownTop, nil
		}
		if n := len(stack); n > 0 {
			if top := stack[n-1]; !top.obj {
				next = elemOf(top.typ)
			} else if !top.wantKey {
				next = top.child
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= MaxJSONDepth {
					return false, Errorf(EINVALID, "request body nested deeper than %d levels", MaxJSONDepth)
				}
				f := &frame{obj: v == '{', wantKey: v == '{', typ: next, raw: next == rawJSONType}
				if n := len(stack); n > 0 && stack[n-1].raw {
					f.raw = true
				}
				if f.obj {
					f.fields = fieldsOf(next)
					f.seen = map[string]bool{}
				} else {
					path = append(path, "[0]")
				}
				stack = append(stack, f)
			default:
				if !stack[len(stack)-1].obj {
					path = path[:len(path)-1]
				}
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				top := stack[n-1]
				field := where(v)
				if strings.HasPrefix(v, "$") || strings.ContainsRune(v, 0) {
					return false, FieldError(field, "field names may not start with $ or contain NUL: %q", v).With("reason", "operator_key")
				}
				if top.seen[v] && !top.raw {
					return false, FieldError(field, "field %q appears twice", field).With("reason", "duplicate_key")
				}
				top.seen[v] = true
				top.child = nil
				if top.fields != nil {
					if ft, ok := top.fields[v]; ok {
						top.child = ft
					} else {
						for name := range top.fields {
							if strings.EqualFold(name, v) {
								return false, FieldError(field, "unknown field %q: the field is %q (names are case-sensitive)", v, name).With("reason", "case_mismatch")
							}
						}
						unknownTop = unknownTop || n == 1
					}
				} else if mt := top.typ; mt != nil {
					top.child = elemOf(mt)
				}
				top.wantKey = false
				path = append(path, v)
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
