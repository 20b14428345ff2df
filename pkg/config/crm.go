package config

import (
	"strings"
	"time"
)

// CRM configures what the CRM-side features write (README, "Caller
// intelligence: leads, missed-call tasks, internal calls"). Whether a
// tenant uses them are its settings, not configuration: the features
// leads_inbound, leads_outbound and missed_call_task, lead_module,
// own_numbers, internal_policy and technical_extensions.
type CRM struct {
	Leads CRMLeads `yaml:"leads"`
	Tasks CRMTasks `yaml:"tasks"`
}

// CRMLeads configures the records created for unknown callers.
type CRMLeads struct {
	// Module is where they are created for tenants without a lead_module:
	// Leads or Contacts.
	Module string `yaml:"module"`
	// LastName and Company are the placeholders of the new record
	// ({number}: the caller's E.164 number); Company is sent to Leads only
	// (mandatory in Zoho's default Leads layout).
	LastName string `yaml:"last_name"`
	Company  string `yaml:"company"`
	// Source is the Lead_Source picklist value (Leads only); empty sends
	// none.
	Source string `yaml:"source"`
	// Memory is how long the record created for a number is remembered, so
	// that later calls from it (and concurrent ones) create no other.
	Memory time.Duration `yaml:"memory"`
}

// CRMTasks configures the missed-call tasks.
type CRMTasks struct {
	// Subject is the task's subject; {caller} is the matched record's name
	// or, without one, the caller's number.
	Subject string `yaml:"subject"`
	// Priority and Status are Tasks picklist values (Zoho's defaults: High,
	// Highest, Low, Lowest, Normal; Not Started, Deferred, In Progress,
	// Completed, Waiting for input).
	Priority string `yaml:"priority"`
	Status   string `yaml:"status"`
}

// defaultCRM are the crm defaults.
func defaultCRM() CRM {
	return CRM{
		Leads: CRMLeads{Module: "Leads", LastName: "Unknown caller {number}", Company: "Unknown company", Memory: 24 * time.Hour},
		Tasks: CRMTasks{Subject: "Call back {caller}", Priority: "High", Status: "Not Started"},
	}
}

func (p *checker) crm(c CRM) {
	p.oneOf("crm.leads.module", c.Leads.Module, "Leads", "Contacts")
	// Zoho's text fields: Last_Name and Company take 80 characters; an
	// E.164 number adds at most 16.
	for _, f := range []struct {
		key, v string
		max    int
	}{
		{"crm.leads.last_name", c.Leads.LastName, 64}, {"crm.leads.company", c.Leads.Company, 64},
		{"crm.tasks.subject", c.Tasks.Subject, 120}, {"crm.tasks.priority", c.Tasks.Priority, 120},
		{"crm.tasks.status", c.Tasks.Status, 120},
	} {
		if strings.TrimSpace(f.v) == "" || len(f.v) > f.max {
			p.addf("%s: must be 1 to %d bytes, got %q", f.key, f.max, f.v)
		}
	}
	if len(c.Leads.Source) > 120 {
		p.addf("crm.leads.source: must be at most 120 bytes, got %d", len(c.Leads.Source))
	}
	if c.Leads.Memory < time.Minute || c.Leads.Memory > 720*time.Hour {
		p.addf("crm.leads.memory: must be between 1m and 720h, got %s", c.Leads.Memory)
	}
}
