package eslsim

import (
	"strings"
)

// The directory (conf/directory) and the two mod_commands APIs that read it,
// as FreeSWITCH writes them (mod_commands.c list_users_function, dump_user,
// user_data_function; FreeSWITCH source, looked up because the fact sheet
// does not cover them).

// User is a user of the simulated directory: a <user id> of a <domain>,
// with the variables FreeSWITCH prints or looks up.
type User struct {
	ID string
	// Domain is its <domain name> (Domain when empty).
	Domain string
	// Groups are the <group>s listing it, in order; none: its domain lists
	// its users without groups. As in FreeSWITCH, a domain with groups is
	// read through them only: a user of such a domain in no group is not
	// listed.
	Groups []string
	// Context, CallerIDName, CallerIDNumber and Callgroup are its
	// user_context, effective_caller_id_name, effective_caller_id_number
	// and callgroup variables.
	Context                      string
	CallerIDName, CallerIDNumber string
	Callgroup                    string
	// Contact is what sofia_contact answers for it:
	// error/user_not_registered when empty.
	Contact string
	// Vars are its other variables (user_data <id>@<domain> var <name>).
	Vars map[string]string
}

// DefaultUsers are the scripts' extensions: 1001, 1002 and 1003 of domain
// acme in group default, context default, named "Ext 100x" as their calls
// are.
func DefaultUsers() []User {
	var out []User
	for _, ext := range []string{"1001", "1002", "1003"} {
		out = append(out, User{ID: ext, Domain: Domain, Groups: []string{"default"}, Context: "default",
			CallerIDName: "Ext " + ext, CallerIDNumber: ext})
	}
	return out
}

// SetUsers replaces the directory (a reloadxml).
func (s *Server) SetUsers(users []User) {
	users = copyUsers(users)
	s.mu.Lock()
	s.users = users
	s.mu.Unlock()
}

func copyUsers(users []User) []User {
	out := make([]User, len(users))
	for i, u := range users {
		if u.Domain == "" {
			u.Domain = Domain
		}
		u.Groups = append([]string(nil), u.Groups...)
		vars := make(map[string]string, len(u.Vars))
		for k, v := range u.Vars {
			vars[k] = v
		}
		u.Vars = vars
		out[i] = u
	}
	return out
}

// listUsersSyntax is LIST_USERS_SYNTAX.
const listUsersSyntax = "[group <group>] [domain <domain>] [user <user>] [context <context>]"

// listUsers answers `list_users [group g] [domain d] [user u] [context c]`:
// the header, one row per user and group (dump_user's
// "%s|%s|%s|%s|%s|%s|%s|%s\n", unset values printed empty), then "\n+OK\n".
// The group column of a domain without groups keeps the last group of an
// earlier domain, as list_users_function's user_struct does. s.mu held.
func (s *Server) listUsers(words []string) string {
	if len(words) >= 8 {
		return "-USAGE: " + listUsersSyntax + "\n"
	}
	var user, domain, context, group string
	for i := 0; i+1 < len(words); i++ {
		switch strings.ToLower(words[i]) {
		case "user":
			user = words[i+1]
		case "domain":
			domain = words[i+1]
		case "context":
			context = words[i+1]
		case "group":
			group = words[i+1]
		}
	}
	var b strings.Builder
	b.WriteString("userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number\n")
	row := func(u User, gname string) {
		if user != "" && !strings.EqualFold(user, u.ID) {
			return
		}
		if context != "" && (u.Context == "" || !strings.EqualFold(context, u.Context)) {
			return
		}
		contact := u.Contact
		if contact == "" {
			contact = "error/user_not_registered"
		}
		b.WriteString(strings.Join([]string{u.ID, u.Context, u.Domain, gname, contact, u.Callgroup, u.CallerIDName, u.CallerIDNumber}, "|"))
		b.WriteByte('\n')
	}
	gname := "" // list_users_function's us.gname: it outlives a domain
	var domains []string
	for _, u := range s.users {
		if !contains(domains, u.Domain) {
			domains = append(domains, u.Domain)
		}
	}
	for _, d := range domains {
		if domain != "" && !strings.EqualFold(domain, d) {
			continue
		}
		var members []User
		var groups []string
		for _, u := range s.users {
			if u.Domain != d {
				continue
			}
			members = append(members, u)
			for _, g := range u.Groups {
				if !contains(groups, g) {
					groups = append(groups, g)
				}
			}
		}
		if len(groups) == 0 {
			for _, u := range members {
				row(u, gname)
			}
			continue
		}
		for _, g := range groups {
			gname = g
			if group != "" && !strings.EqualFold(group, g) {
				continue
			}
			for _, u := range members {
				if contains(u.Groups, g) {
					row(u, g)
				}
			}
		}
	}
	b.WriteString("\n+OK\n")
	return b.String()
}

// userData answers `user_data <user>[@<domain>] <attr|var|param> <name>`:
// the value, without a newline, or nothing. Variables are matched without
// regard to case; the simulated directory has user variables only (no
// domain or group ones) and no params. s.mu held.
func (s *Server) userData(words []string) string {
	if len(words) < 3 {
		return ""
	}
	id, domain, ok := strings.Cut(words[0], "@")
	if !ok {
		domain = Domain // the switch's "domain" global variable
	}
	typ, key := words[1], words[2]
	for _, u := range s.users {
		if u.ID != id || u.Domain != domain {
			continue
		}
		switch typ {
		case "attr":
			if key == "id" {
				return u.ID
			}
		case "var":
			vars := map[string]string{"user_context": u.Context, "effective_caller_id_name": u.CallerIDName,
				"effective_caller_id_number": u.CallerIDNumber, "callgroup": u.Callgroup}
			for k, v := range u.Vars {
				vars[k] = v
			}
			for k, v := range vars {
				if strings.EqualFold(k, key) && v != "" {
					return v
				}
			}
		}
		return ""
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
