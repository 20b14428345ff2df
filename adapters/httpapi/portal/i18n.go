package portal

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// defaultLang is the language of a browser that asks for none the portal
// speaks.
const defaultLang = "en"

// langChoice is one entry of the language switch.
type langChoice struct{ Code, Name string }

// langChoices are the languages of the switch, each named in itself.
var langChoices = []langChoice{{"en", "English"}, {"es", "Español"}}

// language picks the request's language: the switch's cookie, else the
// best of Accept-Language the portal speaks, else English.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := catalogs[c.Value]; ok {
			return c.Value
		}
	}
	return negotiate(r.Header.Get("Accept-Language"))
}

// negotiate reads an Accept-Language header ("es-ES,es;q=0.9,en;q=0.8")
// and returns the supported language of the highest weight; ties go to
// the one listed first.
func negotiate(header string) string {
	type tag struct {
		lang string
		q    float64
		i    int
	}
	var tags []tag
	for i, part := range strings.Split(header, ",") {
		if i >= 32 { // a header longer than any browser's
			break
		}
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(name)), "-")
		if _, ok := catalogs[primary]; ok && q > 0 {
			tags = append(tags, tag{primary, q, i})
		}
	}
	if len(tags) == 0 {
		return defaultLang
	}
	sort.SliceStable(tags, func(a, b int) bool { return tags[a].q > tags[b].q })
	return tags[0].lang
}

// translate looks key up in a catalog and formats it with args. A missing
// key shows as itself in brackets (a test keeps that from happening).
func translate(cat map[string]string, key string, args ...any) string {
	msg, ok := cat[key]
	if !ok {
		return "[" + key + "]"
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// knownKey reports whether key is a message of the catalogs.
func knownKey(key string) bool {
	_, ok := catalogs[defaultLang][key]
	return ok
}

// catalogs are the portal's messages by language. Every key is in every
// language, with the same fmt verbs (TestCatalogsComplete).
var catalogs = map[string]map[string]string{
	"en": {
		"app.name":        "Ringside",
		"nav.tenants":     "Tenants",
		"nav.users":       "Users",
		"nav.zoho":        "Zoho integration",
		"nav.live":        "Live calls",
		"nav.audit":       "Audit log",
		"nav.logout":      "Log out",
		"nav.language":    "Language",
		"nav.signed_in":   "Signed in as %s",
		"role.operator":   "operator",
		"role.admin":      "company admin",
		"page.login":      "Log in",
		"page.tenants":    "Tenants",
		"page.zoho":       "Zoho integration",
		"page.users":      "Users",
		"page.user":       "User",
		"page.live":       "Live calls",
		"page.audit":      "Audit log",
		"page.error":      "Error",
		"common.cancel":   "Cancel",
		"common.on":       "ON",
		"common.off":      "OFF",
		"common.previous": "Previous",
		"common.next":     "Next",
		"common.range":    "%d–%d of %d",
		"common.none":     "None",

		"login.title":    "Log in to Ringside",
		"login.username": "Username",
		"login.password": "Password",
		"login.submit":   "Log in",
		"login.wrong":    "Wrong username or password.",
		"login.locked":   "Too many failed logins from your address. Try again in %d minute(s).",

		"flash.session_expired": "Your session has expired. Please log in again",
		"flash.logged_out":      "You are logged out",

		"error.forbidden":     "You may not do this",
		"error.unauthorized":  "Not logged in",
		"error.not_connected": "The Zoho integration is not connected",
		"error.no_pbx":        "No PBX connection",
		"error.not_found":     "Not found",
		"error.conflict":      "Conflict",
		"error.invalid":       "Invalid input",
		"error.failed":        "Something went wrong",
		"error.csrf":          "The form was not accepted (its security token is missing or wrong). Reload the page and try again.",
		"error.title":         "Error %d",
		"error.home":          "Back to the start page",

		"tenants.title":       "Tenants",
		"tenants.id":          "ID",
		"tenants.name":        "Name",
		"tenants.mode":        "Zoho mode",
		"tenants.status":      "Zoho status",
		"tenants.empty":       "No tenants yet. Create one with: ringside tenants add",
		"tenants.pages":       "Pages",
		"tenants.unset":       "not chosen",
		"status.connected":    "connected",
		"status.disconnected": "not connected",
		"status.revoked":      "access revoked by Zoho",
		"mode.rest":           "REST (any Zoho edition): Ringside writes the call logs",
		"mode.phonebridge":    "PhoneBridge (paid editions): screen pops and click-to-dial in Zoho",

		"zoho.title":                      "Zoho integration of %s",
		"zoho.status":                     "Status",
		"zoho.mode":                       "Mode",
		"zoho.location":                   "Data centre",
		"zoho.connected_at":               "Connected at",
		"zoho.last_error":                 "Last error",
		"zoho.linked":                     "Linked users",
		"zoho.enable_title":               "Enable",
		"zoho.enable_help":                "Choose the mode, then sign in at Zoho as an administrator of the company's Zoho org and accept. Zoho sends you back here.",
		"zoho.enable":                     "Enable",
		"zoho.reconnect":                  "Reconnect",
		"zoho.disable_title":              "Disable",
		"zoho.disable_help":               "Turns the integration off for the whole company.",
		"zoho.disable":                    "Disable for all users…",
		"zoho.disable_confirm":            "All %d linked users are unlinked, and Ringside's access to Zoho is revoked. Continue?",
		"zoho.disable_ok":                 "Disable for all users",
		"zoho.connected_flash":            "Zoho is connected",
		"zoho.denied_flash":               "Zoho did not grant access. Nothing changed",
		"zoho.failed_flash":               "Connecting to Zoho failed (the daemon's log says why). Try again",
		"zoho.disabled_flash":             "The Zoho integration is disabled; %s users unlinked",
		"zoho.default_user_title":         "Default responsible user",
		"zoho.default_user_help":          "Calls that no linked user took are logged, and their tasks assigned, to this Zoho user.",
		"zoho.default_user_now":           "Now:",
		"zoho.default_user":               "Zoho user",
		"zoho.default_user_set":           "Save",
		"zoho.default_user_flash":         "The default responsible user is %s",
		"zoho.default_user_cleared_flash": "There is no default responsible user any more",

		"users.title":             "Users of %s",
		"users.search":            "Search",
		"users.search_help":       "Extension, name or Zoho user",
		"users.filter_all":        "All",
		"users.filter_linked":     "Linked",
		"users.filter_unlinked":   "Not linked",
		"users.user":              "User",
		"users.extension":         "Phone / extension",
		"users.zoho_login":        "Zoho login",
		"users.zoho_name":         "Zoho name",
		"users.linked":            "Linked",
		"users.action":            "Action",
		"users.link":              "Link…",
		"users.unlink":            "Unlink…",
		"users.link_title":        "Link extension %s",
		"users.link_help":         "Ringside registers the chosen Zoho user for click-to-call and logs the extension's calls for them.",
		"users.link_choose":       "Zoho user",
		"users.link_ok":           "Link",
		"users.no_choices":        "Every Zoho user is linked already.",
		"users.unlink_title":      "Unlink extension %s",
		"users.unlink_confirm":    "Unlink %s from the Zoho user %s? Click-to-call and call logging stop for this user.",
		"users.unlink_ok":         "Unlink",
		"users.empty":             "No users match. Extensions come from the PBX.",
		"users.not_connected":     "Enable the Zoho integration to link users.",
		"users.zoho_users_failed": "The Zoho users cannot be listed",
		"users.linked_flash":      "Extension %s is linked to %s",
		"users.unlinked_flash":    "Extension %s is no longer linked to %s",

		"user.title":                    "Extension %s",
		"user.name":                     "Name",
		"user.device":                   "Device",
		"user.link":                     "Zoho user",
		"user.not_linked":               "Not linked to a Zoho user. Link it from the users table, or let its user sign in at Zoho below.",
		"user.linked_at":                "Linked at",
		"user.switches":                 "Switches",
		"user.notifications":            "Call notifications",
		"user.notifications_help":       "Screen pops and call logs in Zoho for this user.",
		"user.click_to_call":            "Click-to-call",
		"user.click_to_call_help":       "Clicking a number in Zoho rings this user's default terminal first.",
		"user.needs_notifications":      "Needs call notifications.",
		"user.turn_on":                  "Turn on",
		"user.turn_off":                 "Turn off",
		"user.switches_flash":           "Switches saved",
		"user.terminal":                 "Default terminal",
		"user.terminal_help":            "Click-to-call rings it first. Users choose it themselves by dialling *037 (desk phone) or 3037 (mobile).",
		"user.terminal_own":             "The extension itself (%s)",
		"user.terminal_desk":            "Desk phone or softphone %s",
		"user.terminal_mobile":          "Mobile %s",
		"user.terminal_set_at":          "Set at %s",
		"user.terminal_kind":            "Kind",
		"user.kind_desk":                "Desk device",
		"user.kind_mobile":              "Mobile number",
		"user.terminal_value":           "Device or number (empty desk device: the extension's own)",
		"user.terminal_set":             "Set",
		"user.terminal_reset":           "Reset to the extension",
		"user.terminal_flash":           "Default terminal set",
		"user.terminal_reset_flash":     "Default terminal reset to the extension",
		"user.back":                     "Back to the users",
		"user.selflink_title":           "Link by signing in at Zoho",
		"user.selflink_help":            "The person at this extension signs in at Zoho with a code shown here and approves; Ringside then links the extension to that Zoho user. Ringside only reads who signed in and keeps nothing of their sign-in.",
		"user.selflink_start":           "Link by signing in at Zoho",
		"user.selflink_open":            "Open Zoho's page:",
		"user.selflink_enter":           "Sign in as yourself, enter this code and approve:",
		"user.selflink_until":           "The code is valid until %s.",
		"user.selflink_waiting":         "This page waits for the approval, then shows the link.",
		"user.selflink_check":           "Check now",
		"user.selflink_linked_flash":    "Extension %s is linked to %s, who signed in at Zoho",
		"user.selflink_denied_flash":    "The sign-in at Zoho was denied. Nothing changed; start again for a new code",
		"user.selflink_expired_flash":   "The code expired before it was approved at Zoho. Nothing changed; start again for a new code",
		"user.selflink_failed_flash":    "Linking after the sign-in at Zoho failed. Nothing changed",
		"user.selflink_cancelled_flash": "Linking by signing in at Zoho was cancelled",

		"live.title":                 "Live calls of %s",
		"live.help":                  "Calls ringing and answered now; ended calls stay for a minute. Updates every 2 seconds.",
		"live.state":                 "State",
		"live.direction":             "Direction",
		"live.customer":              "Customer",
		"live.extensions":            "Extensions",
		"live.for":                   "For",
		"live.empty":                 "No calls right now.",
		"live.state.ringing":         "ringing",
		"live.state.answered":        "answered",
		"live.state.ended":           "ended",
		"live.direction.inbound":     "inbound",
		"live.direction.outbound":    "outbound",
		"live.direction.internal":    "internal",
		"live.disposition.answered":  "answered",
		"live.disposition.missed":    "missed",
		"live.disposition.abandoned": "abandoned",
		"live.disposition.busy":      "busy",
		"live.disposition.no_answer": "no answer",
		"live.disposition.cancelled": "cancelled",
		"live.disposition.failed":    "failed",

		"audit.title":  "Audit log of %s",
		"audit.time":   "Time",
		"audit.actor":  "Who",
		"audit.via":    "Through",
		"audit.action": "Action",
		"audit.target": "Target",
		"audit.detail": "Detail",
		"audit.result": "Result",
		"audit.ok":     "done",
		"audit.empty":  "Nothing recorded yet.",
	},
	"es": {
		"app.name":        "Ringside",
		"nav.tenants":     "Empresas",
		"nav.users":       "Usuarios",
		"nav.zoho":        "Integración con Zoho",
		"nav.live":        "Llamadas en curso",
		"nav.audit":       "Registro de auditoría",
		"nav.logout":      "Cerrar sesión",
		"nav.language":    "Idioma",
		"nav.signed_in":   "Sesión de %s",
		"role.operator":   "operador",
		"role.admin":      "administrador de empresa",
		"page.login":      "Iniciar sesión",
		"page.tenants":    "Empresas",
		"page.zoho":       "Integración con Zoho",
		"page.users":      "Usuarios",
		"page.user":       "Usuario",
		"page.live":       "Llamadas en curso",
		"page.audit":      "Registro de auditoría",
		"page.error":      "Error",
		"common.cancel":   "Cancelar",
		"common.on":       "SÍ",
		"common.off":      "NO",
		"common.previous": "Anterior",
		"common.next":     "Siguiente",
		"common.range":    "%d–%d de %d",
		"common.none":     "Ninguno",

		"login.title":    "Iniciar sesión en Ringside",
		"login.username": "Usuario",
		"login.password": "Contraseña",
		"login.submit":   "Entrar",
		"login.wrong":    "Usuario o contraseña incorrectos.",
		"login.locked":   "Demasiados intentos fallidos desde su dirección. Inténtelo de nuevo en %d minuto(s).",

		"flash.session_expired": "Su sesión ha caducado. Inicie sesión de nuevo",
		"flash.logged_out":      "Ha cerrado la sesión",

		"error.forbidden":     "No tiene permiso para hacer esto",
		"error.unauthorized":  "No ha iniciado sesión",
		"error.not_connected": "La integración con Zoho no está conectada",
		"error.no_pbx":        "No hay conexión con la centralita",
		"error.not_found":     "No encontrado",
		"error.conflict":      "Conflicto",
		"error.invalid":       "Datos no válidos",
		"error.failed":        "Algo ha fallado",
		"error.csrf":          "No se aceptó el formulario (falta su token de seguridad o es incorrecto). Recargue la página e inténtelo de nuevo.",
		"error.title":         "Error %d",
		"error.home":          "Volver a la página de inicio",

		"tenants.title":       "Empresas",
		"tenants.id":          "ID",
		"tenants.name":        "Nombre",
		"tenants.mode":        "Modo de Zoho",
		"tenants.status":      "Estado de Zoho",
		"tenants.empty":       "Aún no hay empresas. Cree una con: ringside tenants add",
		"tenants.pages":       "Páginas",
		"tenants.unset":       "sin elegir",
		"status.connected":    "conectada",
		"status.disconnected": "no conectada",
		"status.revoked":      "acceso revocado por Zoho",
		"mode.rest":           "REST (cualquier edición de Zoho): Ringside escribe los registros de llamadas",
		"mode.phonebridge":    "PhoneBridge (ediciones de pago): avisos en pantalla y clic para llamar en Zoho",

		"zoho.title":                      "Integración con Zoho de %s",
		"zoho.status":                     "Estado",
		"zoho.mode":                       "Modo",
		"zoho.location":                   "Centro de datos",
		"zoho.connected_at":               "Conectada el",
		"zoho.last_error":                 "Último error",
		"zoho.linked":                     "Usuarios vinculados",
		"zoho.enable_title":               "Activar",
		"zoho.enable_help":                "Elija el modo, inicie sesión en Zoho como administrador de la organización de Zoho de la empresa y acepte. Zoho le devuelve aquí.",
		"zoho.enable":                     "Activar",
		"zoho.reconnect":                  "Volver a conectar",
		"zoho.disable_title":              "Desactivar",
		"zoho.disable_help":               "Desactiva la integración para toda la empresa.",
		"zoho.disable":                    "Desactivar para todos los usuarios…",
		"zoho.disable_confirm":            "Se desvinculan los %d usuarios vinculados y se revoca el acceso de Ringside a Zoho. ¿Continuar?",
		"zoho.disable_ok":                 "Desactivar para todos los usuarios",
		"zoho.connected_flash":            "Zoho está conectado",
		"zoho.denied_flash":               "Zoho no concedió el acceso. No ha cambiado nada",
		"zoho.failed_flash":               "La conexión con Zoho falló (el registro del servicio indica el motivo). Inténtelo de nuevo",
		"zoho.disabled_flash":             "La integración con Zoho está desactivada; %s usuarios desvinculados",
		"zoho.default_user_title":         "Usuario responsable por defecto",
		"zoho.default_user_help":          "Las llamadas que no atendió ningún usuario vinculado se registran, y sus tareas se asignan, a este usuario de Zoho.",
		"zoho.default_user_now":           "Ahora:",
		"zoho.default_user":               "Usuario de Zoho",
		"zoho.default_user_set":           "Guardar",
		"zoho.default_user_flash":         "El usuario responsable por defecto es %s",
		"zoho.default_user_cleared_flash": "Ya no hay usuario responsable por defecto",

		"users.title":             "Usuarios de %s",
		"users.search":            "Buscar",
		"users.search_help":       "Extensión, nombre o usuario de Zoho",
		"users.filter_all":        "Todos",
		"users.filter_linked":     "Vinculados",
		"users.filter_unlinked":   "Sin vincular",
		"users.user":              "Usuario",
		"users.extension":         "Teléfono / extensión",
		"users.zoho_login":        "Cuenta de Zoho",
		"users.zoho_name":         "Nombre en Zoho",
		"users.linked":            "Vinculado",
		"users.action":            "Acción",
		"users.link":              "Vincular…",
		"users.unlink":            "Desvincular…",
		"users.link_title":        "Vincular la extensión %s",
		"users.link_help":         "Ringside registra al usuario de Zoho elegido para el clic para llamar y le asigna las llamadas de la extensión.",
		"users.link_choose":       "Usuario de Zoho",
		"users.link_ok":           "Vincular",
		"users.no_choices":        "Todos los usuarios de Zoho ya están vinculados.",
		"users.unlink_title":      "Desvincular la extensión %s",
		"users.unlink_confirm":    "¿Desvincular %s del usuario de Zoho %s? El clic para llamar y el registro de llamadas se detienen para este usuario.",
		"users.unlink_ok":         "Desvincular",
		"users.empty":             "Ningún usuario coincide. Las extensiones vienen de la centralita.",
		"users.not_connected":     "Active la integración con Zoho para vincular usuarios.",
		"users.zoho_users_failed": "No se pueden listar los usuarios de Zoho",
		"users.linked_flash":      "La extensión %s está vinculada a %s",
		"users.unlinked_flash":    "La extensión %s ya no está vinculada a %s",

		"user.title":                    "Extensión %s",
		"user.name":                     "Nombre",
		"user.device":                   "Dispositivo",
		"user.link":                     "Usuario de Zoho",
		"user.not_linked":               "No está vinculada a un usuario de Zoho. Vincúlela desde la tabla de usuarios, o deje que su usuario inicie sesión en Zoho más abajo.",
		"user.linked_at":                "Vinculada el",
		"user.switches":                 "Interruptores",
		"user.notifications":            "Notificaciones de llamadas",
		"user.notifications_help":       "Avisos en pantalla y registros de llamadas en Zoho para este usuario.",
		"user.click_to_call":            "Clic para llamar",
		"user.click_to_call_help":       "Al hacer clic en un número en Zoho suena primero el terminal predeterminado de este usuario.",
		"user.needs_notifications":      "Requiere las notificaciones de llamadas.",
		"user.turn_on":                  "Activar",
		"user.turn_off":                 "Desactivar",
		"user.switches_flash":           "Interruptores guardados",
		"user.terminal":                 "Terminal predeterminado",
		"user.terminal_help":            "El clic para llamar lo hace sonar primero. Los usuarios lo eligen marcando *037 (teléfono de mesa) o 3037 (móvil).",
		"user.terminal_own":             "La propia extensión (%s)",
		"user.terminal_desk":            "Teléfono de mesa o softphone %s",
		"user.terminal_mobile":          "Móvil %s",
		"user.terminal_set_at":          "Elegido el %s",
		"user.terminal_kind":            "Tipo",
		"user.kind_desk":                "Dispositivo de mesa",
		"user.kind_mobile":              "Número móvil",
		"user.terminal_value":           "Dispositivo o número (dispositivo de mesa vacío: el de la extensión)",
		"user.terminal_set":             "Guardar",
		"user.terminal_reset":           "Volver a la extensión",
		"user.terminal_flash":           "Terminal predeterminado guardado",
		"user.terminal_reset_flash":     "Terminal predeterminado devuelto a la extensión",
		"user.back":                     "Volver a los usuarios",
		"user.selflink_title":           "Vincular iniciando sesión en Zoho",
		"user.selflink_help":            "La persona de esta extensión inicia sesión en Zoho con un código que se muestra aquí y lo aprueba; Ringside vincula entonces la extensión a ese usuario de Zoho. Ringside solo lee quién inició sesión y no guarda nada de su sesión.",
		"user.selflink_start":           "Vincular iniciando sesión en Zoho",
		"user.selflink_open":            "Abra la página de Zoho:",
		"user.selflink_enter":           "Inicie sesión con su propia cuenta, introduzca este código y apruebe:",
		"user.selflink_until":           "El código es válido hasta el %s.",
		"user.selflink_waiting":         "Esta página espera la aprobación y después muestra la vinculación.",
		"user.selflink_check":           "Comprobar ahora",
		"user.selflink_linked_flash":    "La extensión %s está vinculada a %s, que inició sesión en Zoho",
		"user.selflink_denied_flash":    "Se denegó el inicio de sesión en Zoho. No ha cambiado nada; empiece de nuevo para obtener un código nuevo",
		"user.selflink_expired_flash":   "El código caducó antes de aprobarse en Zoho. No ha cambiado nada; empiece de nuevo para obtener un código nuevo",
		"user.selflink_failed_flash":    "La vinculación tras el inicio de sesión en Zoho falló. No ha cambiado nada",
		"user.selflink_cancelled_flash": "Se canceló la vinculación con inicio de sesión en Zoho",

		"live.title":                 "Llamadas en curso de %s",
		"live.help":                  "Llamadas que suenan o están en conversación; las terminadas se ven durante un minuto. Se actualiza cada 2 segundos.",
		"live.state":                 "Estado",
		"live.direction":             "Sentido",
		"live.customer":              "Cliente",
		"live.extensions":            "Extensiones",
		"live.for":                   "Duración",
		"live.empty":                 "No hay llamadas en este momento.",
		"live.state.ringing":         "sonando",
		"live.state.answered":        "en conversación",
		"live.state.ended":           "terminada",
		"live.direction.inbound":     "entrante",
		"live.direction.outbound":    "saliente",
		"live.direction.internal":    "interna",
		"live.disposition.answered":  "atendida",
		"live.disposition.missed":    "perdida",
		"live.disposition.abandoned": "abandonada",
		"live.disposition.busy":      "ocupado",
		"live.disposition.no_answer": "sin respuesta",
		"live.disposition.cancelled": "cancelada",
		"live.disposition.failed":    "fallida",

		"audit.title":  "Registro de auditoría de %s",
		"audit.time":   "Fecha",
		"audit.actor":  "Quién",
		"audit.via":    "Vía",
		"audit.action": "Acción",
		"audit.target": "Objeto",
		"audit.detail": "Detalle",
		"audit.result": "Resultado",
		"audit.ok":     "hecho",
		"audit.empty":  "Aún no hay nada registrado.",
	},
}
