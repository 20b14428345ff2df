package directory

import (
	"slices"
	"testing"

	"github.com/ringside/ringside/pkg/store"
)

func TestCompareNumbersOrdersAsPeopleRead(t *testing.T) {
	got := []string{"100", "reception", "99", "0100", "1001", "fax", "200", "10"}
	slices.SortFunc(got, CompareNumbers)
	want := []string{"10", "99", "0100", "100", "200", "1001", "fax", "reception"}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted %v, want %v", got, want)
	}
}

func TestQueryMatchesNumberNameAndZohoUser(t *testing.T) {
	linked := User{Extension: store.Extension{Number: "1001", Name: "Ana García"},
		Link: &store.Link{Email: "ana@acme.example", Name: "Ana G."}}
	free := User{Extension: store.Extension{Number: "1002", Name: "Bob"}}
	yes, no := true, false
	for _, c := range []struct {
		q          Query
		ana, other bool
	}{
		{Query{}, true, true},
		{Query{Search: "100"}, true, true},
		{Query{Search: "1001"}, true, false},
		{Query{Search: "GARCÍA"}, true, false},
		{Query{Search: "acme.example"}, true, false},
		{Query{Search: "bob"}, false, true},
		{Query{Linked: &yes}, true, false},
		{Query{Linked: &no}, false, true},
		{Query{Search: "ana", Linked: &no}, false, false},
	} {
		if c.q.match(linked) != c.ana || c.q.match(free) != c.other {
			t.Errorf("query %+v: matches linked %t, unlinked %t; want %t, %t", c.q, c.q.match(linked), c.q.match(free), c.ana, c.other)
		}
	}
}

func TestActorMayAdministerOnlyItsTenant(t *testing.T) {
	op := Actor{Username: "ops", Role: store.RoleOperator}
	admin := Actor{Username: "ana", Role: store.RoleAdmin, Tenant: "acme"}
	stray := Actor{Username: "x", Role: store.RoleAdmin} // an admin without tenant administers nothing
	for _, c := range []struct {
		a      Actor
		tenant string
		want   bool
	}{
		{op, "acme", true}, {op, "globex", true},
		{admin, "acme", true}, {admin, "globex", false},
		{stray, "", false}, {Actor{Username: "nobody"}, "acme", false},
	} {
		if got := c.a.may(c.tenant); got != c.want {
			t.Errorf("%s may administer %q: %t, want %t", c.a.Username, c.tenant, got, c.want)
		}
	}
}
