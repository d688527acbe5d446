package schemas

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type body struct {
		Login string           `json:"login"`
		Inner inner            `json:"inner"`
		List  []inner          `json:"list"`
		Tags  map[string]inner `json:"tags"`
		Any   any              `json:"any"`
		Kind  string           `json:"kind"`
		Raw   json.RawMessage  `json:"raw"`
	}
	cases := map[string]string{ // body -> reason refused ("" accepted)
		`{"a":1}`:                         "",
		`{"a":"$not a key"}`:              "",
		`["$fine in arrays"]`:             "",
		`{"a":{"b":[{"c":"$x"}]}}`:        "",
		`{"$a":1}`:                        "operator_key",
		`{"a":{"$gt":1}}`:                 "operator_key",
		`{"a":[1,{"b":2},{"$c":3}]}`:      "operator_key",
		`{"a":[],"$b":1}`:                 "operator_key",
		`{"a":{},"b":{"c":[[]],"$d":{}}}`: "operator_key",
		`{"a\u0000b":1}`:                  "operator_key",
		`{"a":"x","b":{"c":"y"},"d":"$"}`: "",
		strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40): "depth",
		`{"a":`: "", // left for the decoder to report

		`{"login":"a","login":"b"}`:                                "duplicate_key",
		`{"inner":{"name":"a","name":"b"}}`:                        "duplicate_key",
		`{"list":[{"name":"a"},{"name":"b","name":"c"}]}`:          "duplicate_key",
		`{"tags":{"x":{},"x":{}}}`:                                 "duplicate_key",
		`{"any":{"k":1,"k":2}}`:                                    "duplicate_key",
		`{"login":"a","inner":{"name":"b"},"list":[{"name":"c"}]}`: "",
		`{"LOGIN":"a"}`:                                            "case_mismatch",
		`{"login":"a","Login":"b"}`:                                "case_mismatch",
		`{"inner":{"NAME":"b"}}`:                                   "case_mismatch",
		`{"list":[{"name":"a"},{"Name":"b"}]}`:                     "case_mismatch",
		`{"tags":{"x":{"nAme":"b"}}}`:                              "case_mismatch",
		`{"tags":{"NAME":{}}}`:                                     "", // map keys are data, not field names
		`{"raw":{"k":1,"k":2,"K":3}}`:                              "", // raw JSON is checked by whoever decodes it
		`{"raw":{"a":{"$set":1}}}`:                                 "operator_key",
		`{"any":{"LOGIN":1}}`:                                      "",              // so are the keys of free-form values
		"{\"\u212aind\":\"x\"}":                                    "case_mismatch", // KELVIN SIGN folds to k, and Go's decoder takes it
	}
	for in, want := range cases {
		err := checkKeys([]byte(in), reflect.TypeOf((*body)(nil)))
		got := ""
		if err != nil {
			e := err.(*Error)
			got, _ = e.Details["reason"].(string)
			if got == "" {
				got = "depth"
			}
		}
		if got != want {
			t.Errorf("checkKeys(%s) = %q (%v), want %q", in, got, err, want)
		}
	}
}

// TestGoDecoderFoldsCase is why checkKeys exists: encoding/json matches
// names ignoring case (Unicode folding, too), and lets a repeated key win.
func TestGoDecoderFoldsCase(t *testing.T) {
	var v struct {
		Login string `json:"login"`
		Kind  string `json:"kind"`
	}
	if err := json.Unmarshal([]byte("{\"login\":\"nobody\",\"LOGIN\":\"worker1\",\"\u212aind\":\"x\"}"), &v); err != nil || v.Login != "worker1" || v.Kind != "x" {
		t.Fatalf("encoding/json changed: %+v %v", v, err)
	}
	if err := DecodeJSON([]byte(`{"login":"nobody","LOGIN":"worker1"}`), &v); ErrorCode(err) != EINVALID {
		t.Fatalf("DecodeJSON took a case-folded key: %v", err)
	}
}
