package api_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"fieldsync/schemas"
)

// TestCaseListsPageByCursor: the case lists give nextCursor and read on
// from after, each item once, newest first; a cursor this list did not
// issue is a 400.
func TestCaseListsPageByCursor(t *testing.T) {
	w := newWorld(t)
	f := w.f
	var filed []string
	for i := range 5 {
		var c schemas.Complaint
		f.do("POST", "/v1/complaints", map[string]any{"category": "quality", "text": fmt.Sprintf("第%d次", i+1)}, w.cu1).want(201).decode(&c)
		filed = append([]string{c.ID}, filed...) // newest first
		f.clock.Add(time.Minute)
	}
	type page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	read := func(path, token string) ([]string, string) {
		t.Helper()
		var got []string
		after, pages := "", 0
		for ; ; pages++ {
			var p page
			f.do("GET", path+"?limit=2&after="+url.QueryEscape(after), nil, token).want(200).decode(&p)
			if len(p.Items) > 2 || pages > 10 {
				t.Fatalf("%s: a page of %d, page %d", path, len(p.Items), pages)
			}
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if p.NextCursor == "" {
				return got, after
			}
			after = p.NextCursor
		}
	}
	var last string // of the customer's list
	for _, token := range []string{w.s1, w.cu1} {
		var got []string
		if got, last = read("/v1/complaints", token); fmt.Sprint(got) != fmt.Sprint(filed) {
			t.Errorf("complaints by page: %v, want %v", got, filed)
		}
	}
	for _, path := range []string{"/v1/complaints", "/v1/alerts", "/v1/incidents", "/v1/followups"} {
		f.do("GET", path+"?after=bm90IGEgY3Vyc29y", nil, w.s1).wantError(400, schemas.EINVALID)
	}
	f.do("GET", "/v1/complaints?after="+url.QueryEscape(last), nil, w.s1).wantError(400, schemas.EINVALID) // the customer's
}
