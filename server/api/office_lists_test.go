package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"fieldsync/schemas"
)

// TestOfficeListsPageThroughTheAPI: the office lists page by nextCursor
// within what the caller may see, records added between pages after the
// cursor show up, and a cursor this server did not issue is a 400.
func TestOfficeListsPageThroughTheAPI(t *testing.T) {
	w := newWorld(t)
	f := w.f
	ctx := context.Background()
	wantWorkers := []string{w.w1.ID}
	wantCustomers := []string{w.c1.ID}
	add := func(i int) {
		wk, err := f.office.CreateWorker(ctx, sysAdmin, workerInput(fmt.Sprintf("工人%d", i), "team-1", fmt.Sprintf("+86138000001%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		wantWorkers = append(wantWorkers, wk.ID)
		if _, err := f.office.CreateWorker(ctx, sysAdmin, workerInput(fmt.Sprintf("别组%d", i), "team-2", fmt.Sprintf("+86138000002%02d", i))); err != nil {
			t.Fatal(err)
		}
		c, err := f.office.CreateCustomer(ctx, sysAdmin, customerInput(fmt.Sprintf("客户%d", i), "team-1", fmt.Sprintf("+86139000001%02d", i), "示范路3号"))
		if err != nil {
			t.Fatal(err)
		}
		wantCustomers = append(wantCustomers, c.ID)
	}
	for i := range 4 {
		add(i)
	}
	page := func(path, cursor string) ([]string, string) {
		t.Helper()
		var p struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		f.do("GET", path+"&after="+cursor, nil, w.s1).want(200).decode(&p)
		var ids []string
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		return ids, p.NextCursor
	}
	for _, list := range []struct {
		path string
		want *[]string
	}{{"/v1/workers?limit=2", &wantWorkers}, {"/v1/customers?limit=2", &wantCustomers}} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("%s: paging does not end", list.path)
			}
			ids, next := page(list.path, cursor)
			got = append(got, ids...)
			if next == "" {
				break
			}
			if pages == 0 {
				add(10 + len(*list.want))
			}
			cursor = next
		}
		if !slices.Equal(got, *list.want) {
			t.Fatalf("%s paged through %v, want %v", list.path, got, *list.want)
		}
	}
	for _, path := range []string{"/v1/workers", "/v1/customers", "/v1/service-types", "/v1/schedules"} {
		for _, bad := range []string{"$gt", "not-a-cursor", schemas.NewID() + "x"} {
			f.do("GET", path+"?after="+bad, nil, w.admin).wantError(400, schemas.EINVALID)
		}
	}
}
