package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// supervisorPlan is what spawn hands the supervisor (through a pipe: the environment holds credentials).
type supervisorPlan struct {
	Path  string      `json:"path"`
	Argv  []string    `json:"argv"`
	Env   []string    `json:"env"`
	Dir   string      `json:"dir"`
	User  string      `json:"user,omitempty"`
	Stdin bool        `json:"stdin"`
	TTY   *windowSize `json:"tty,omitempty"`
}

// runSpawn starts a step process detached from this exec and then follows it like `tail`, so one exec
// both starts a process and streams its output. The process is started by a supervisor in its own session,
// which appends nothing itself (the process writes its output files directly) and writes the exit status
// file when it ends: a dropped exec, or a web that restarts, loses nothing.
//
// stdin carries frames: the spec first, then the process's stdin (`i` frames, `z` at its end). Framed,
// stdin ends by itself, so this works on v4.channel.k8s.io, which cannot half-close.
func runSpawn(args []string) error {
	flags := flag.NewFlagSet("spawn", flag.ContinueOnError)
	id := flags.String("id", "", "process id (its directory name)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	out := newFrameWriter(os.Stdout)
	dir, err := processDir(*id)
	if err != nil {
		return out.fail("bad-request", err.Error())
	}
	in := newFrameReader(os.Stdin)
	kind, payload, err := in.next()
	if err != nil || kind != frameSpec {
		return out.fail("bad-request", "spawn expects the process spec as its first stdin frame")
	}
	var spec processSpec
	if err := json.Unmarshal(payload, &spec); err != nil || spec.Path == "" {
		return out.fail("bad-request", fmt.Sprintf("invalid process spec: %v", err))
	}
	if err := os.MkdirAll(procsDir(), 0o777); err != nil {
		return out.fail("internal", err.Error())
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return out.fail("exists", fmt.Sprintf("process %s already exists", *id))
		}
		return out.fail("internal", err.Error())
	}

	pid, stdinFifo, code, err := startSupervised(dir, &spec)
	if err != nil {
		// Nothing ran: free the id so the caller may try again.
		_ = os.RemoveAll(dir)
		return out.fail(code, err.Error())
	}
	if err := out.json(frameStarted, map[string]int64{"pid": int64(pid), "stdout": 0, "stderr": 0}); err != nil {
		return err
	}
	if err := out.flush(); err != nil {
		return err
	}
	go forwardStdin(in, dir, stdinFifo)
	return follow(dir, [2]int64{0, 0}, out)
}

// startSupervised starts `jetbridge-helper supervise` in a new session and waits for its report.
func startSupervised(dir string, spec *processSpec) (int, *os.File, string, error) {
	env := processEnv(spec)
	workDir := spec.Dir
	if workDir == "" {
		workDir = "/"
	}
	_ = os.MkdirAll(workDir, 0o755)
	resolved, err := lookPath(spec.Path, env, workDir)
	if err != nil {
		return 0, nil, "executable-not-found", fmt.Errorf("executable file not found: %s", spec.Path)
	}
	for _, name := range []string{"stdout", "stderr"} {
		file, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, nil, "internal", err
		}
		file.Close()
	}
	// The FIFO is opened read-write here before the process can read it, so the process never sees an early
	// end of file; forwardStdin swaps it for a write-only handle once the process holds the read end.
	var fifo *os.File
	if spec.Stdin {
		path := filepath.Join(dir, "stdin")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return 0, nil, "internal", err
		}
		if fifo, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
			return 0, nil, "internal", err
		}
	}
	plan, err := json.Marshal(supervisorPlan{
		Path:  resolved,
		Argv:  append([]string{spec.Path}, spec.Args...),
		Env:   env,
		Dir:   workDir,
		User:  spec.User,
		Stdin: spec.Stdin,
		TTY:   spec.TTY,
	})
	if err != nil {
		return 0, nil, "internal", err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, nil, "internal", err
	}
	planReader, planWriter, err := os.Pipe()
	if err != nil {
		return 0, nil, "internal", err
	}
	reportReader, reportWriter, err := os.Pipe()
	if err != nil {
		return 0, nil, "internal", err
	}
	log, err := os.OpenFile(filepath.Join(dir, "supervisor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, nil, "internal", err
	}
	supervisor := exec.Command(self, "supervise", "--dir", dir)
	supervisor.Stdin = planReader
	supervisor.Stdout = log
	supervisor.Stderr = log
	supervisor.ExtraFiles = []*os.File{reportWriter}
	supervisor.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	startErr := supervisor.Start()
	planReader.Close()
	reportWriter.Close()
	log.Close()
	if startErr != nil {
		planWriter.Close()
		return 0, nil, "internal", startErr
	}
	go func() {
		_, _ = planWriter.Write(plan)
		planWriter.Close()
	}()
	report, _ := io.ReadAll(reportReader)
	reportReader.Close()
	// Not waited for: it outlives this exec and is reaped by PID 1 (the idle helper).
	_ = supervisor.Process.Release()
	line := strings.TrimSpace(string(report))
	if rest, ok := strings.CutPrefix(line, "ok "); ok {
		pid, err := strconv.Atoi(rest)
		if err != nil {
			return 0, nil, "internal", fmt.Errorf("bad supervisor report %q", line)
		}
		return pid, fifo, "", nil
	}
	if rest, ok := strings.CutPrefix(line, "err "); ok {
		code, message, _ := strings.Cut(rest, " ")
		return 0, nil, code, errors.New(message)
	}
	return 0, nil, "internal", fmt.Errorf("the supervisor ended without a report (see %s/supervisor.log)", dir)
}

// forwardStdin copies `i` frames into the process's FIFO until `z` or the end of this exec's stdin.
func forwardStdin(in *frameReader, dir string, readWrite *os.File) {
	var writer *os.File
	if readWrite != nil {
		// Write-only from now on, so writes fail (EPIPE) instead of blocking once the process stops reading.
		var err error
		writer, err = os.OpenFile(filepath.Join(dir, "stdin"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			writer = nil // no reader left: the process already closed its stdin
		}
		readWrite.Close()
	}
	for {
		kind, payload, err := in.next()
		if err != nil || kind == frameStdinEnd {
			break
		}
		if kind == frameStdin && writer != nil {
			if _, err := writer.Write(payload); err != nil {
				writer.Close()
				writer = nil
			}
		}
	}
	if writer != nil {
		writer.Close()
	}
}
