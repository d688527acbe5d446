package api

import (
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	cases := map[string]bool{ // body -> refused
		`{"a":1}`:                         false,
		`{"a":"$not a key"}`:              false,
		`["$fine in arrays"]`:             false,
		`{"a":{"b":[{"c":"$x"}]}}`:        false,
		`{"$a":1}`:                        true,
		`{"a":{"$gt":1}}`:                 true,
		`{"a":[1,{"b":2},{"$c":3}]}`:      true,
		`{"a":[],"$b":1}`:                 true,
		`{"a":{},"b":{"c":[[]],"$d":{}}}`: true,
		`{"a\u0000b":1}`:                  true,
		`{"a":"x","b":{"c":"y"},"d":"$"}`: false,
		strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40): true,
		`{"a":`: false, // left for the decoder to report
	}
	for body, refused := range cases {
		if got := checkKeys([]byte(body)) != nil; got != refused {
			t.Errorf("checkKeys(%s) refused=%v, want %v", body, got, refused)
		}
	}
}
