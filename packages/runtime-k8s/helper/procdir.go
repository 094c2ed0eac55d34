package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Every process JetBridge starts in a pod has a directory under <root>/procs/<id>/ on the pod's helper emptyDir:
//
//	stdout, stderr   the process's output, appended by the process itself (so nothing depends on a live exec)
//	stdin            a FIFO, when the process was given stdin
//	pid              the process (group) id, written once it started
//	supervisor.pid   the helper process waiting for it
//	status           {"status":N,"signal":"…"} written (atomically) when it ended: the only source of its exit status
//	tty              the terminal's device path, for resize
//
// The directory lives as long as the pod, so a dropped exec or a restarted web loses nothing.

var processIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// helperRoot is the directory the helper was installed under (<root>/bin/jetbridge-helper).
func helperRoot() string {
	if root := os.Getenv("JETBRIDGE_HELPER_ROOT"); root != "" {
		return root
	}
	if exe, err := os.Executable(); err == nil && filepath.Base(filepath.Dir(exe)) == "bin" {
		return filepath.Dir(filepath.Dir(exe))
	}
	return "/.jetbridge"
}

func procsDir() string { return filepath.Join(helperRoot(), "procs") }

func processDir(id string) (string, error) {
	if !processIDPattern.MatchString(id) {
		return "", usageError{fmt.Sprintf("invalid process id %q", id)}
	}
	return filepath.Join(procsDir(), id), nil
}

type exitStatus struct {
	Status int `json:"status"`
	// The signal that ended the process (Status is then 128 + Signal, as a shell reports it).
	Signal int `json:"signal,omitempty"`
}

func readExitStatus(dir string) (*exitStatus, error) {
	data, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	var status exitStatus
	if err := json.Unmarshal(data, &status); err != nil {
		return nil, fmt.Errorf("unreadable status file: %w", err)
	}
	return &status, nil
}

// writeFileAtomically makes a file appear complete or not at all (readers poll for it).
func writeFileAtomically(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// isAlive: the process exists and is not a zombie (a zombie is gone for every purpose here).
func isAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill(0)
	}
	// The state follows the command name in parentheses, which may itself contain ')'.
	text := string(stat)
	if i := strings.LastIndexByte(text, ')'); i >= 0 && i+2 < len(text) {
		return text[i+2] != 'Z'
	}
	return true
}
