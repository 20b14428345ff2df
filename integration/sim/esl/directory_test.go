package eslsim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestListUsersPrintsLikeFreeSWITCH: list_users_function's table, one row
// per user and group, "\n+OK\n" at the end, filters, and its quirks.
func TestListUsersPrintsLikeFreeSWITCH(t *testing.T) {
	s, err := Start(Options{Users: []User{
		{ID: "1000", Domain: "192.0.2.2", Groups: []string{"default", "sales"}, Context: "default", CallerIDName: "Extension 1000", CallerIDNumber: "1000", Callgroup: "techsupport"},
		{ID: "1001", Domain: "192.0.2.2", Groups: []string{"default"}, Context: "default", CallerIDName: "Extension 1001", CallerIDNumber: "1001", Contact: "sofia/internal/sip:1001@192.0.2.11:5060"},
		{ID: "1099", Domain: "192.0.2.2"}, // in a domain with groups but in none: not listed
		{ID: "2001", Domain: "globex", Context: "globex", Vars: map[string]string{"ringside_tenant": "globex"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	const header = "userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number\n"
	for args, want := range map[string]string{
		"": header +
			"1000|default|192.0.2.2|default|error/user_not_registered|techsupport|Extension 1000|1000\n" +
			"1001|default|192.0.2.2|default|sofia/internal/sip:1001@192.0.2.11:5060||Extension 1001|1001\n" +
			"1000|default|192.0.2.2|sales|error/user_not_registered|techsupport|Extension 1000|1000\n" +
			"2001|globex|globex|sales|error/user_not_registered|||\n" + // the last group outlives its domain
			"\n+OK\n",
		"domain globex":             header + "2001|globex|globex||error/user_not_registered|||\n\n+OK\n",
		"group sales":               header + "1000|default|192.0.2.2|sales|error/user_not_registered|techsupport|Extension 1000|1000\n2001|globex|globex|sales|error/user_not_registered|||\n\n+OK\n",
		"user 1001 context DEFAULT": header + "1001|default|192.0.2.2|default|sofia/internal/sip:1001@192.0.2.11:5060||Extension 1001|1001\n\n+OK\n",
		"a b c d e f g h":           "-USAGE: " + listUsersSyntax + "\n",
	} {
		if got := s.api(strings.TrimSpace("list_users " + args)); got != want {
			t.Errorf("list_users %s:\n%s\nwant:\n%s", args, got, want)
		}
	}
	for args, want := range map[string]string{
		"2001@globex var ringside_tenant":    "globex",
		"2001@globex var RINGSIDE_TENANT":    "globex",
		"1000@192.0.2.2 var user_context":    "default",
		"1000@192.0.2.2 var ringside_tenant": "",
		"1000@192.0.2.2 attr id":             "1000",
		"9999@globex var user_context":       "",
		"1001 var user_context":              "", // the default domain is acme
		"1001@192.0.2.2":                     "",
	} {
		if got := s.api("user_data " + args); got != want {
			t.Errorf("user_data %s: %q, want %q", args, got, want)
		}
	}
	if len(DefaultUsers()) != 3 {
		t.Errorf("default users %+v", DefaultUsers())
	}
}

// TestBackgroundListUsers: over the wire, `bgapi list_users` answers
// +OK Job-UUID and then a BACKGROUND_JOB whose body is the table; `api
// user_data` of an unset variable answers -ERR no reply.
func TestBackgroundListUsers(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	read := func() (map[string]string, string) {
		hs := map[string]string{}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			l = strings.TrimRight(l, "\n")
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ": ")
			hs[k] = v
		}
		n, _ := strconv.Atoi(hs["Content-Length"])
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		return hs, string(body)
	}
	read() // auth/request
	for _, cmd := range []string{"auth ClueCon", "event plain BACKGROUND_JOB", "bgapi list_users\nJob-UUID: job-1", "api user_data 1001@acme var nothing"} {
		fmt.Fprintf(nc, "%s\n\n", cmd)
	}
	for _, want := range []string{"+OK accepted", "+OK event listener enabled plain", "+OK Job-UUID: job-1"} {
		if hs, _ := read(); hs["Reply-Text"] != want {
			t.Fatalf("reply %v, want %s", hs, want)
		}
	}
	var job, api string
	for job == "" || api == "" {
		hs, body := read()
		switch hs["Content-Type"] {
		case "text/event-plain":
			if !strings.Contains(body, "Event-Name: BACKGROUND_JOB\n") || !strings.Contains(body, "Job-UUID: job-1\n") ||
				strings.Contains(body, "Job-Command-Arg") {
				t.Fatalf("event %q", body)
			}
			_, job, _ = strings.Cut(body, "\n\n")
		case "api/response":
			api = body
		}
	}
	if !strings.HasPrefix(job, "userid|context|domain|") || !strings.HasSuffix(job, "|Ext 1003|1003\n\n+OK\n") {
		t.Errorf("job body %q", job)
	}
	if api != "-ERR no reply\n" {
		t.Errorf("api user_data: %q", api)
	}
}
