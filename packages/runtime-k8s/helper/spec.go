package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// processSpec arrives as the first frame on spawn's stdin, never on the command line: exec arguments end up
// in API server audit logs, and a task's environment carries its params (credentials included).
type processSpec struct {
	Path string            `json:"path"`
	Args []string          `json:"args"`
	Env  map[string]string `json:"env"`
	// The container's environment (task params). Saved in the pod on first use, so a web that restarted and
	// no longer knows it still runs hijacked processes with it.
	ContainerEnv map[string]string `json:"containerEnv,omitempty"`
	Dir          string            `json:"dir"`
	User         string            `json:"user,omitempty"`
	Stdin        bool              `json:"stdin"`
	TTY          *windowSize       `json:"tty,omitempty"`
}

type windowSize struct {
	Rows    uint16 `json:"rows"`
	Columns uint16 `json:"columns"`
}

func containerEnvFile() string { return filepath.Join(helperRoot(), "container-env.json") }

// resolveContainerEnv returns the container env given now, saving it for later, or the saved one.
func resolveContainerEnv(given map[string]string) map[string]string {
	if given != nil {
		if data, err := json.Marshal(given); err == nil {
			if _, statErr := os.Stat(containerEnvFile()); errors.Is(statErr, os.ErrNotExist) {
				_ = writeFileAtomically(containerEnvFile(), data, 0o600)
			}
		}
		return given
	}
	data, err := os.ReadFile(containerEnvFile())
	if err != nil {
		return nil
	}
	var saved map[string]string
	if json.Unmarshal(data, &saved) != nil {
		return nil
	}
	return saved
}

// processEnv is the exec's environment (the image's ENV and what Kubernetes adds), then the container's,
// then the process's own: what a process in a Concourse container sees.
func processEnv(spec *processSpec) []string {
	merged := map[string]string{}
	for _, entry := range os.Environ() {
		if i := strings.IndexByte(entry, '='); i > 0 && !strings.HasPrefix(entry[:i], "JETBRIDGE_HELPER_") {
			merged[entry[:i]] = entry[i+1:]
		}
	}
	for key, value := range resolveContainerEnv(spec.ContainerEnv) {
		merged[key] = value
	}
	for key, value := range spec.Env {
		merged[key] = value
	}
	if spec.TTY != nil {
		if _, set := merged["TERM"]; !set {
			merged["TERM"] = "xterm"
		}
	}
	keys := make([]string, 0, len(merged))
	for key := range merged {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, key := range keys {
		env = append(env, key+"="+merged[key])
	}
	return env
}

func envValue(env []string, name string) string {
	for _, entry := range env {
		if strings.HasPrefix(entry, name+"=") {
			return entry[len(name)+1:]
		}
	}
	return ""
}

// lookPath resolves the executable as the container runtime would: a name with a slash relative to the
// working directory, anything else through the process's PATH (not the helper's).
func lookPath(path string, env []string, dir string) (string, error) {
	isExecutable := func(candidate string) bool {
		info, err := os.Stat(candidate)
		return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
	}
	if strings.Contains(path, "/") {
		candidate := path
		if !filepath.IsAbs(candidate) {
			candidate = filepath.Join(dir, candidate)
		}
		if isExecutable(candidate) {
			return candidate, nil
		}
		return "", os.ErrNotExist
	}
	searchPath := envValue(env, "PATH")
	if searchPath == "" {
		searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, directory := range filepath.SplitList(searchPath) {
		if directory == "" {
			directory = "."
		}
		candidate := filepath.Join(directory, path)
		if !filepath.IsAbs(candidate) {
			candidate = filepath.Join(dir, candidate)
		}
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", os.ErrNotExist
}

// credentialFor maps `user` ("name", "uid", "uid:gid", "name:group") to credentials, or nil when the helper
// already runs as that user. Names come from the image's /etc/passwd and /etc/group.
func credentialFor(name string) (*syscall.Credential, error) {
	if name == "" {
		return nil, nil
	}
	userPart, groupPart, hasGroup := strings.Cut(name, ":")
	uid, gid := -1, -1
	var groups []uint32
	if n, err := strconv.Atoi(userPart); err == nil {
		uid = n
		if found, err := user.LookupId(userPart); err == nil {
			gid, _ = strconv.Atoi(found.Gid)
		}
	} else {
		found, err := user.Lookup(userPart)
		if err != nil {
			return nil, fmt.Errorf("unknown user %q: %w", userPart, err)
		}
		uid, _ = strconv.Atoi(found.Uid)
		gid, _ = strconv.Atoi(found.Gid)
		if ids, err := found.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil {
					groups = append(groups, uint32(n))
				}
			}
		}
	}
	if hasGroup {
		if n, err := strconv.Atoi(groupPart); err == nil {
			gid = n
		} else if group, err := user.LookupGroup(groupPart); err == nil {
			gid, _ = strconv.Atoi(group.Gid)
		} else {
			return nil, fmt.Errorf("unknown group %q", groupPart)
		}
	}
	if gid < 0 {
		gid = uid
	}
	if uid == os.Getuid() && gid == os.Getgid() {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
