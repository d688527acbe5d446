package schemas

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in     string
		class  TextClass
		out    string
		reason string
	}{
		{"  林先生 ", TextName, "林先生", ""},
		{"第一行\n\t第二行", TextNote, "第一行\n\t第二行", ""},
		{"a\x00b", TextNote, "", "control_character"},
		{"a\rb", TextNote, "", "control_character"},
		{"a\u0085b", TextNote, "", "control_character"}, // C1 controls too
		{"a\nb", TextCode, "", "control_character"},
		{" id ", TextCode, " id ", ""}, // codes are not trimmed
		{strings.Repeat("字", 100), TextName, strings.Repeat("字", 100), ""},
		{strings.Repeat("字", 101), TextName, "", "too_long"},
		{"  " + strings.Repeat("x", 100) + "  ", TextName, strings.Repeat("x", 100), ""}, // counted after trimming
		{"\xff", TextNote, "", "invalid_utf8"},
		{" pass\x01word ", TextSecret, " pass\x01word ", ""},
	} {
		out, err := CheckText("f", c.in, c.class)
		reason := ""
		if err != nil {
			reason, _ = err.(*Error).Details["reason"].(string)
		}
		if reason != c.reason || (err == nil && out != c.out) {
			t.Errorf("CheckText(%q, %s) = %q, %v; want %q, reason %q", c.in, c.class, out, err, c.out, c.reason)
		}
	}
}

func TestCleanTextTrimsAndNames(t *testing.T) {
	type item struct {
		Reason string `json:"reason"`
	}
	type in struct {
		Name  *string  `json:"name"`
		Items []item   `json:"items"`
		Pets  []string `json:"pets"`
		ID    string   `json:"id"`
	}
	name := "  张三  "
	v := in{Name: &name, Items: []item{{" ok "}, {"bad\x00"}}, Pets: []string{" 猫 "}}
	err := CleanText(&v)
	if e, ok := err.(*Error); !ok || e.Details["field"] != "items[1].reason" {
		t.Fatalf("err = %v, want the field items[1].reason", err)
	}
	v.Items = v.Items[:1]
	if err := CleanText(&v); err != nil || *v.Name != "张三" || v.Items[0].Reason != "ok" || v.Pets[0] != "猫" {
		t.Fatalf("%v %+v", err, v)
	}
}
