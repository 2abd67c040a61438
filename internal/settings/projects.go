package settings

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/templates/layout"
	"github.com/sendora/sendora/web/templates/pages"
)

// The Projects page: create, rename and delete projects, edit their
// allowed origins, replace their public keys.

func projectURL(name, fragment string) string {
	u := "/projects/view?" + url.Values{"project": {name}}.Encode()
	if fragment != "" {
		u += "#" + fragment
	}
	return u
}

// keeps are the dashboard's choices of how long a replaced public key
// keeps working. store.DefaultKeyKeep is checked first, as in the CLI.
var keeps = []struct {
	value string
	d     time.Duration
	label string
	help  string
}{
	{"24h", 24 * time.Hour, "24 hours", "Time to deploy the new key to your sites; it then stops by itself."},
	{"168h", 7 * 24 * time.Hour, "7 days", "For apps in stores, or pages cached for days."},
	{"revoke", store.KeepUntilRevoked, "Until I revoke it", "Revoke it here once your sites send with the new key."},
	{"0", 0, "Stop it now", "Its events are refused at once. Sites still using it lose their events until they switch."},
}

func (h *Handler) actor(r *http.Request) store.Audit {
	a := auth.Actor(r, h.ips)
	return store.Audit{At: h.now(), Actor: a.Name, IP: a.IP}
}

func (h *Handler) projectsChanged(deleted bool) {
	if h.projectsHook != nil {
		h.projectsHook(deleted)
	}
}

// Projects serves GET /projects: every project, and a form for a new one.
func (h *Handler) Projects(w http.ResponseWriter, r *http.Request) error {
	page, err := h.projectsPage(r, "", "")
	if err != nil {
		return err
	}
	page.Chrome.Flash = h.auth.TakeFlash(w, r)
	return h.ui.Page(w, r, http.StatusOK, pages.Projects(page))
}

func (h *Handler) projectsPage(r *http.Request, name, errMsg string) (pages.ProjectsPage, error) {
	all, err := h.store.Projects(r.Context())
	if err != nil {
		return pages.ProjectsPage{}, err
	}
	page := pages.ProjectsPage{Chrome: h.ui.Chrome(r, "Projects", layout.NavProjects), CreateName: name, CreateError: errMsg}
	for _, p := range all {
		p = p.WithoutExpiredKey(h.now())
		origins := "any origin"
		if n := len(p.AllowedOrigins); n == 1 {
			origins = p.AllowedOrigins[0]
		} else if n > 1 {
			origins = fmt.Sprintf("%d origins", n)
		}
		page.Projects = append(page.Projects, pages.ProjectRow{
			Name: p.Name, URL: projectURL(p.Name, ""), PublicKey: p.PublicKey, KeyID: fmt.Sprintf("key-%d", p.ID),
			Rotating: p.PreviousPublicKey != "", Origins: origins, Strict: p.Strict, CreatedAt: p.CreatedAt,
		})
	}
	return page, nil
}

// CreateProject serves POST /projects.
func (h *Handler) CreateProject(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	refuse := func(status int, msg string) error {
		page, err := h.projectsPage(r, clip(name, 200), msg)
		if err != nil {
			return err
		}
		return h.ui.Page(w, r, status, pages.Projects(page))
	}
	if err := store.ValidateProjectName(name); err != nil {
		return refuse(http.StatusBadRequest, nameProblem(name))
	}
	p, err := h.store.CreateProjectAudited(r.Context(), name, h.actor(r))
	if errors.Is(err, store.ErrConflict) {
		return refuse(http.StatusConflict, "There is already a project named "+name+".")
	}
	if err != nil {
		return err
	}
	h.projectsChanged(false)
	h.auth.SetFlash(w, r, "ok", "Project "+p.Name+" created. Its public key is below; its identity secret is made on the Identity page.")
	webui.Redirect(w, r, projectURL(p.Name, "keys"))
	return nil
}

// nameProblem says what is wrong with a project name, for people.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "Give the project a name."
	case len(name) > 64:
		return "A project name has at most 64 characters."
	default:
		return "A project name may only hold letters a–z and A–Z, digits, '-', '_' and '.'."
	}
}

// clip bounds text echoed back into a form.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// formProject resolves the project a form was made for: its name, and its
// ref (projectRef), so a form opened before a project was deleted and
// another created with its name changes nothing.
func (h *Handler) formProject(r *http.Request) (store.Project, error) {
	name := r.PostForm.Get("project")
	if name == "" {
		return store.Project{}, webui.Errorf(webui.Invalid, "The form does not say which project it is for.")
	}
	p, _, err := h.project(r.Context(), name)
	if err != nil {
		return store.Project{}, err
	}
	if r.PostForm.Get("ref") != projectRef(p) {
		return store.Project{}, webui.Errorf(webui.Conflict, "Project %s changed since that form was opened (it was deleted and made again). Nothing was changed; open its page again.", name)
	}
	return p, nil
}

// projectRef names one project in its forms: its id, which SQLite may give
// again to a project made after a deleted one was purged, and its creation
// time.
func projectRef(p store.Project) string {
	return strconv.FormatInt(p.ID, 10) + "-" + strconv.FormatInt(p.CreatedAt.UnixMilli(), 10)
}

// ProjectView serves GET /projects/view?project=NAME.
func (h *Handler) ProjectView(w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Query().Get("project")
	if name == "" {
		webui.Redirect(w, r, "/projects")
		return nil
	}
	p, all, err := h.project(r.Context(), name)
	if err != nil {
		return err
	}
	page := h.projectPage(r, p, len(all))
	page.Chrome.Flash = h.auth.TakeFlash(w, r)
	return h.ui.Page(w, r, http.StatusOK, pages.Project(page))
}

func (h *Handler) projectPage(r *http.Request, p store.Project, count int) pages.ProjectPage {
	p = p.WithoutExpiredKey(h.now())
	page := pages.ProjectPage{
		Chrome:        h.ui.Chrome(r, "Project · "+p.Name, layout.NavProjects),
		ID:            p.ID,
		Ref:           projectRef(p),
		Name:          p.Name,
		CreatedAt:     p.CreatedAt,
		IdentityURL:   identityURL(p.Name, nil, ""),
		DeleteURL:     "/projects/delete?" + url.Values{"project": {p.Name}}.Encode(),
		TTL:           webui.Duration(h.verifier.TTL()),
		PublicKey:     p.PublicKey,
		PreviousKey:   p.PreviousPublicKey,
		PreviousUntil: p.PreviousKeyUntil,
		RenameValue:   p.Name,
		Origins:       p.AllowedOrigins,
		OriginsValue:  strings.Join(p.AllowedOrigins, "\n"),
		OnlyOne:       count <= 1,
	}
	for _, k := range keeps {
		label := k.label
		if k.d == store.DefaultKeyKeep {
			label += " (default)"
		}
		page.Keeps = append(page.Keeps, pages.KeepOption{Value: k.value, Label: label, Help: k.help, Checked: k.d == store.DefaultKeyKeep})
	}
	return page
}

// renderProject re-renders a project's page with status after a refused
// change; edit sets the refused panel's error and input.
func (h *Handler) renderProject(w http.ResponseWriter, r *http.Request, status int, p store.Project, edit func(*pages.ProjectPage)) error {
	all, err := h.store.Projects(r.Context())
	if err != nil {
		return err
	}
	page := h.projectPage(r, p, len(all))
	edit(&page)
	return h.ui.Page(w, r, status, pages.Project(page))
}

// RenameProject serves POST /projects/rename.
func (h *Handler) RenameProject(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	p, err := h.formProject(r)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	refuse := func(status int, msg string) error {
		return h.renderProject(w, r, status, p, func(pg *pages.ProjectPage) { pg.RenameValue, pg.RenameError = clip(name, 200), msg })
	}
	if err := store.ValidateProjectName(name); err != nil {
		return refuse(http.StatusBadRequest, nameProblem(name))
	}
	if name == p.Name {
		h.auth.SetFlash(w, r, "ok", "The project is already called "+name+"; nothing changed.")
		webui.Redirect(w, r, projectURL(name, "rename"))
		return nil
	}
	_, err = h.store.RenameProject(r.Context(), p.ID, name, h.actor(r))
	if errors.Is(err, store.ErrConflict) {
		return refuse(http.StatusConflict, "There is already a project named "+name+".")
	}
	if err != nil {
		return err
	}
	h.projectsChanged(false)
	h.auth.SetFlash(w, r, "ok", "Project "+p.Name+" is now "+name+". Its keys and data are unchanged.")
	webui.Redirect(w, r, projectURL(name, "rename"))
	return nil
}

// maxOriginsText bounds the origins form: 100 origins of a long host name.
const maxOriginsText = 32 << 10

// ProjectOrigins serves POST /projects/origins.
func (h *Handler) ProjectOrigins(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	p, err := h.formProject(r)
	if err != nil {
		return err
	}
	text := r.PostForm.Get("origins")
	refuse := func(msg string) error {
		return h.renderProject(w, r, http.StatusBadRequest, p, func(pg *pages.ProjectPage) {
			pg.OriginsValue, pg.OriginsError = clip(text, maxOriginsText), msg
		})
	}
	if len(text) > maxOriginsText {
		return refuse(fmt.Sprintf("That is far more than %d origins; nothing was saved.", store.MaxAllowedOrigins))
	}
	origins, err := store.ParseOrigins(text)
	if err != nil {
		return refuse(strings.ToUpper(err.Error()[:1]) + err.Error()[1:] + ". Nothing was saved.")
	}
	if err := h.store.ChangeAllowedOrigins(r.Context(), p.ID, origins, h.actor(r)); err != nil {
		return err
	}
	h.projectsChanged(false)
	msg := "Project " + p.Name + " accepts browser events from any origin."
	if len(origins) > 0 {
		msg = fmt.Sprintf("Project %s accepts browser events from %d origin(s): %s.", p.Name, len(origins), strings.Join(origins, ", "))
	}
	h.auth.SetFlash(w, r, "ok", msg)
	webui.Redirect(w, r, projectURL(p.Name, "origins"))
	return nil
}

// RotateKey serves POST /projects/key/rotate. The form names the key it
// replaces, so a reload or a double click rotates once.
func (h *Handler) RotateKey(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	p, err := h.formProject(r)
	if err != nil {
		return err
	}
	keep, found := time.Duration(0), false
	for _, k := range keeps {
		if k.value == r.PostForm.Get("keep") {
			keep, found = k.d, true
		}
	}
	if !found {
		return h.renderProject(w, r, http.StatusBadRequest, p, func(pg *pages.ProjectPage) {
			pg.KeyError = "Choose how long the current key keeps working."
		})
	}
	from := r.PostForm.Get("key")
	if from == "" {
		return webui.Errorf(webui.Invalid, "The form does not say which key it replaces.")
	}
	np, err := h.store.RotatePublicKey(r.Context(), p.ID, from, keep, h.actor(r))
	if errors.Is(err, store.ErrKeyChanged) {
		h.auth.SetFlash(w, r, "error", "No new key was issued: the key changed since that form was opened (a reload, or another admin). The keys that work now are below.")
		webui.Redirect(w, r, projectURL(p.Name, "keys"))
		return nil
	}
	if err != nil {
		return err
	}
	h.projectsChanged(false)
	var msg string
	switch {
	case keep == 0:
		msg = "New public key issued; the old one stopped working."
	case np.PreviousKeyUntil.IsZero():
		msg = "New public key issued; the old one keeps working until you revoke it."
	default:
		msg = "New public key issued; the old one keeps working until " + np.PreviousKeyUntil.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	h.auth.SetFlash(w, r, "ok", msg+" Put the new key in your sites' SDK setup.")
	webui.Redirect(w, r, projectURL(p.Name, "keys"))
	return nil
}

// RevokeKey serves POST /projects/key/revoke. The form names the old key,
// so a stale form never revokes another.
func (h *Handler) RevokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	p, err := h.formProject(r)
	if err != nil {
		return err
	}
	key := r.PostForm.Get("key")
	if key == "" {
		return webui.Errorf(webui.Invalid, "The form does not say which key to revoke.")
	}
	ok, err := h.store.RevokePublicKey(r.Context(), p.ID, key, h.actor(r))
	if errors.Is(err, store.ErrCurrentKey) {
		return h.renderProject(w, r, http.StatusConflict, p, func(pg *pages.ProjectPage) {
			pg.KeyError = "That is the project's current key, which cannot be revoked: issue a new key first, then revoke this one."
		})
	}
	if err != nil {
		return err
	}
	if !ok {
		h.auth.SetFlash(w, r, "ok", "That key already does not work (revoked, or its time ran out). Nothing changed.")
	} else {
		h.projectsChanged(false)
		h.auth.SetFlash(w, r, "ok", "The old key is revoked: its events are refused from now on.")
	}
	webui.Redirect(w, r, projectURL(p.Name, "keys"))
	return nil
}

// DeleteConfirm serves GET /projects/delete?project=NAME: the typed
// confirmation.
func (h *Handler) DeleteConfirm(w http.ResponseWriter, r *http.Request) error {
	p, all, err := h.project(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	return h.renderDelete(w, r, http.StatusOK, p, len(all), "", "")
}

func (h *Handler) renderDelete(w http.ResponseWriter, r *http.Request, status int, p store.Project, count int, typed, errMsg string) error {
	return h.ui.Page(w, r, status, pages.DeleteProject(pages.DeleteProjectPage{
		Chrome: h.ui.Chrome(r, "Delete project "+p.Name, layout.NavProjects),
		ID:     p.ID, Ref: projectRef(p), Name: p.Name, BackURL: projectURL(p.Name, "delete"),
		Typed: clip(typed, 200), Error: errMsg, OnlyOne: count <= 1,
	}))
}

// DeleteProject serves POST /projects/delete: the project goes at once, its
// data in the background.
func (h *Handler) DeleteProject(w http.ResponseWriter, r *http.Request) error {
	if err := webui.ParseForm(w, r); err != nil {
		return err
	}
	p, err := h.formProject(r)
	if err != nil {
		return err
	}
	typed := r.PostForm.Get("confirm")
	if typed != p.Name {
		return h.renderDelete(w, r, http.StatusBadRequest, p, 2, typed,
			"Type the project's name exactly, "+p.Name+", to delete it. Nothing was deleted.")
	}
	err = h.store.DeleteProject(r.Context(), p.ID, typed, h.actor(r))
	if errors.Is(err, store.ErrLastProject) {
		return h.renderDelete(w, r, http.StatusConflict, p, 1, typed, "")
	}
	if errors.Is(err, store.ErrNameChanged) {
		return webui.Errorf(webui.Conflict, "Project %s was renamed since that form was opened. Nothing was deleted.", p.Name)
	}
	if err != nil {
		return err
	}
	h.projectsChanged(true)
	h.auth.SetFlash(w, r, "ok", "Project "+p.Name+" is deleted: its keys no longer work, and its data is being removed in the background.")
	webui.Redirect(w, r, "/projects")
	return nil
}
