package schemas

import (
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TextClass is a kind of string field in an input: it decides how long the
// string may be, which characters it may hold and whether it is trimmed.
// One rule for every input: CleanText applies it to each string field of a
// decoded body by the field's JSON name (textClasses).
type TextClass int

const (
	// TextCode is an identifier, an enum, a time, a hash or a reference:
	// not trimmed, no control characters at all, at most 256 characters.
	TextCode TextClass = iota
	// TextSecret is a password or a push token: kept exactly as sent
	// (their own rules check them), at most 4096 characters.
	TextSecret
	// Free text, trimmed; newlines and tabs are its only control characters.
	TextName   // a person's or a thing's name: 100
	TextLine   // a label, a list entry, a certificate type: 300
	TextReason // why something is asked or done: 1000
	TextNote   // notes, comments, descriptions, outcomes: 2000
	TextLong   // a complaint, a note or an incident's description: 4000
)

// MaxLen is the most characters (runes) the class allows.
func (c TextClass) MaxLen() int {
	return [...]int{TextCode: 256, TextSecret: 4096, TextName: 100, TextLine: 300, TextReason: 1000, TextNote: 2000, TextLong: 4000}[c]
}

// Free reports whether the class is free text (trimmed, newlines allowed).
func (c TextClass) Free() bool { return c >= TextName }

func (c TextClass) String() string {
	return [...]string{"code", "secret", "name", "line", "reason", "note", "long"}[c]
}

// textClasses classifies every string field of every input by its JSON
// name. A test walks the API's input types and fails on a string field
// missing here, so a new free-text field cannot skip the rule; a name not
// listed is a code (the strictest class) at run time.
var textClasses = map[string]TextClass{
	// free text
	"name": TextName, "signerName": TextName,
	"label": TextLine, "type": TextLine, "number": TextLine, "pets": TextLine, "allergies": TextLine,
	"taboos": TextLine, "requiredCertificates": TextLine,
	"reason": TextReason, "overrideReason": TextReason,
	"note": TextNote, "notes": TextNote, "comment": TextNote, "outcome": TextNote, "description": TextNote,
	"accessNotes": TextNote, "detail": TextNote, "specialNeeds": TextNote,
	"text": TextLong,
	// secrets
	"password": TextSecret, "token": TextSecret,
	// codes: ids, enums, references, times, versions
	"id": TextCode, "login": TextCode, "deviceId": TextCode, "refreshToken": TextCode, "role": TextCode, "team": TextCode,
	"workerId": TextCode, "customerId": TextCode, "userId": TextCode, "supervisorId": TextCode, "addressId": TextCode,
	"serviceTypeId": TextCode, "visitId": TextCode, "opId": TextCode, "itemId": TextCode, "locale": TextCode,
	"timeZone": TextCode, "phone": TextCode, "photoRef": TextCode, "gender": TextCode, "workerGender": TextCode,
	"language": TextCode, "languages": TextCode, "skills": TextCode, "requiredSkills": TextCode, "status": TextCode,
	"date": TextCode, "issued": TextCode, "expires": TextCode, "daysOff": TextCode, "start": TextCode, "end": TextCode,
	"startTime": TextCode, "endTime": TextCode, "startsOn": TextCode, "endsOn": TextCode, "code": TextCode,
	"currency": TextCode, "kind": TextCode, "action": TextCode, "category": TextCode, "severity": TextCode,
	"ownerId": TextCode, "rootCause": TextCode, "channel": TextCode,
	"field": TextCode, "reasonCode": TextCode, "appVersion": TextCode, "platform": TextCode, "contentType": TextCode,
	"sha256": TextCode, "signatureRef": TextCode, "photos": TextCode, "method": TextCode, "presenceCode": TextCode,
	"doNotSend": TextCode, "party": TextCode,
	// a change of scope
	"title": TextLine, "drop": TextCode, "changeId": TextCode, "decision": TextCode,
	"messageId": TextCode,
}

// ClassOf is the class of a string field by its JSON name, and whether the
// name is classified at all.
func ClassOf(jsonName string) (TextClass, bool) {
	c, ok := textClasses[jsonName]
	return c, ok
}

// CheckText applies class's rule to s: valid UTF-8, at most the class's
// length, no control characters (free text: but newline and tab). It
// returns s trimmed when the class is free text.
func CheckText(field, s string, class TextClass) (string, error) {
	if !utf8.ValidString(s) {
		return s, FieldError(field, "%s must be valid UTF-8", field).With("reason", "invalid_utf8")
	}
	if class.Free() {
		s = strings.TrimSpace(s)
	}
	if n := utf8.RuneCountInString(s); n > class.MaxLen() {
		return s, FieldError(field, "%s must be at most %d characters, not %d", field, class.MaxLen(), n).With("reason", "too_long")
	}
	if class == TextSecret {
		return s, nil
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(class.Free() && (r == '\n' || r == '\t')) {
			return s, FieldError(field, "%s must not contain control characters (found %U)", field, r).With("reason", "control_character")
		}
	}
	return s, nil
}

var (
	rawMessageType = reflect.TypeOf([]byte(nil))
	timeValueType  = reflect.TypeOf(time.Time{})
)

// CleanText walks a decoded input (a pointer to it) and applies CheckText
// to every string in it, classified by the JSON name of its field (list
// entries by their list's name); free text is trimmed in place. Raw JSON
// fields are left to whoever decodes them (with DecodeJSON, which cleans).
func CleanText(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	return cleanValue(rv.Elem(), "", "")
}

func cleanValue(v reflect.Value, path, name string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return cleanValue(v.Elem(), path, name)
	case reflect.String:
		class, _ := ClassOf(name)
		s, err := CheckText(path, v.String(), class)
		if err != nil {
			return err
		}
		if s != v.String() && v.CanSet() {
			v.SetString(s)
		}
	case reflect.Slice, reflect.Array:
		if v.Type() == rawMessageType || v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := cleanValue(v.Index(i), path+"["+strconv.Itoa(i)+"]", name); err != nil {
				return err
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			// Map values are not addressable: checked, not trimmed.
			if err := cleanValue(iter.Value(), path+"."+iter.Key().String(), name); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type() == timeValueType {
			return nil
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			if f.Anonymous && tag == "" {
				if err := cleanValue(v.Field(i), path, name); err != nil {
					return err
				}
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			p := tag
			if path != "" {
				p = path + "." + tag
			}
			if err := cleanValue(v.Field(i), p, tag); err != nil {
				return err
			}
		}
	}
	return nil
}
