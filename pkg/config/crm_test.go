package config

import (
	"strings"
	"testing"
	"time"
)

func TestCRMSection(t *testing.T) {
	requireHostNodeID(t)
	c, err := Parse([]byte("crm:\n  leads:\n    module: Contacts\n    last_name: \"Anrufer {number}\"\n    source: Cold Call\n    memory: 2h\n"+
		"  tasks:\n    priority: Highest\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := c.CRM.Leads; l.Module != "Contacts" || l.LastName != "Anrufer {number}" || l.Company != "Unknown company" ||
		l.Source != "Cold Call" || l.Memory != 2*time.Hour {
		t.Fatalf("crm.leads = %+v", l)
	}
	if k := c.CRM.Tasks; k.Priority != "Highest" || k.Status != "Not Started" || k.Subject != "Call back {caller}" {
		t.Fatalf("crm.tasks = %+v", k)
	}
	c, err = Parse(nil, []string{"RINGSIDE_CRM_LEADS_MODULE=Contacts", "RINGSIDE_CRM_TASKS_STATUS=Deferred"})
	if err != nil || c.CRM.Leads.Module != "Contacts" || c.CRM.Tasks.Status != "Deferred" {
		t.Fatalf("from the environment: %+v, %v", c.CRM, err)
	}
	_, err = Parse([]byte("crm:\n  leads:\n    module: Accounts\n    last_name: \"\"\n    memory: 10s\n  tasks:\n    priority: \" \"\n"), nil)
	for _, want := range []string{
		`crm.leads.module: must be Leads or Contacts, got "Accounts"`,
		`crm.leads.last_name: must be 1 to 64 bytes, got ""`,
		"crm.leads.memory: must be between 1m and 720h, got 10s",
		`crm.tasks.priority: must be 1 to 120 bytes, got " "`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems %v lack %q", err, want)
		}
	}
}
