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
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// runSupervise (internal, started by spawn) runs the step process and records how it ended. The process
// leads its own process group (its own session with a terminal), so `kill` reaches everything it started.
// Whatever it leaves running in its group is killed when it exits: a background job holding its output must
// neither hang the step nor outlive it.
func runSupervise(args []string) error {
	flags := flag.NewFlagSet("supervise", flag.ContinueOnError)
	dir := flags.String("dir", "", "process directory")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	// Inherited from spawn without close-on-exec: the step process must not inherit it too, or spawn would
	// wait for the report's end of file as long as the process runs.
	syscall.CloseOnExec(3)
	report := os.NewFile(3, "report")
	reported := false
	reportLine := func(line string) {
		if !reported {
			reported = true
			_, _ = report.WriteString(line + "\n")
			report.Close()
		}
	}
	defer reportLine("err internal the supervisor stopped before starting the process")
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)

	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var plan supervisorPlan
	if err := json.Unmarshal(data, &plan); err != nil {
		return err
	}
	if devNull, err := os.Open(os.DevNull); err == nil {
		_ = syscall.Dup2(int(devNull.Fd()), 0)
		devNull.Close()
	}
	if err := writeFileAtomically(filepath.Join(*dir, "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	appendTo := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(*dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	stdout, err := appendTo("stdout")
	if err != nil {
		return err
	}
	stderr, err := appendTo("stderr")
	if err != nil {
		return err
	}
	credential, err := credentialFor(plan.User)
	if err != nil {
		reportLine("err bad-user " + err.Error())
		return err
	}

	command := &exec.Cmd{Path: plan.Path, Args: plan.Argv, Env: plan.Env, Dir: plan.Dir}
	attributes := &syscall.SysProcAttr{Credential: credential}
	var stdin *os.File
	if plan.Stdin {
		if stdin, err = os.OpenFile(filepath.Join(*dir, "stdin"), os.O_RDONLY, 0); err != nil {
			return err
		}
	}
	var master, terminal *os.File
	if plan.TTY != nil {
		var terminalPath string
		if master, terminalPath, err = openPTY(); err != nil {
			reportLine("err tty " + err.Error())
			return err
		}
		if terminal, err = os.OpenFile(terminalPath, os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
			reportLine("err tty " + err.Error())
			return err
		}
		_ = setWindowSize(terminal, *plan.TTY)
		if credential != nil {
			_ = terminal.Chown(int(credential.Uid), int(credential.Gid))
		}
		_ = writeFileAtomically(filepath.Join(*dir, "tty"), []byte(terminalPath), 0o644)
		command.Stdin, command.Stdout, command.Stderr = terminal, terminal, terminal
		attributes.Setsid, attributes.Setctty, attributes.Ctty = true, true, 0
	} else {
		if stdin != nil {
			command.Stdin = stdin
		}
		command.Stdout, command.Stderr = stdout, stderr
		attributes.Setpgid = true
	}
	command.SysProcAttr = attributes
	if err := command.Start(); err != nil {
		code := "start-failed"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			code = "executable-not-found"
		case errors.Is(err, fs.ErrPermission):
			code = "permission-denied"
		}
		reportLine(fmt.Sprintf("err %s %v", code, err))
		return err
	}
	pid := command.Process.Pid
	if err := writeFileAtomically(filepath.Join(*dir, "pid"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		reportLine("err internal " + err.Error())
		return err
	}
	reportLine(fmt.Sprintf("ok %d", pid))

	var copies sync.WaitGroup
	if master != nil {
		terminal.Close()
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(stdout, master) // ends with EIO once nothing holds the terminal
		}()
		if stdin != nil {
			go func() { _, _ = io.Copy(master, stdin) }()
		}
	} else if stdin != nil {
		stdin.Close()
	}

	waitErr := command.Wait()
	status := exitStatus{Status: 1}
	if state := command.ProcessState; state != nil {
		if wait, ok := state.Sys().(syscall.WaitStatus); ok && wait.Signaled() {
			status = exitStatus{Status: 128 + int(wait.Signal()), Signal: int(wait.Signal())}
		} else {
			status = exitStatus{Status: state.ExitCode()}
		}
	} else if waitErr != nil {
		fmt.Fprintf(os.Stderr, "wait: %v\n", waitErr)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if master != nil {
		done := make(chan struct{})
		go func() { copies.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		master.Close()
	}
	encoded, _ := json.Marshal(status)
	return writeFileAtomically(filepath.Join(*dir, "status"), encoded, 0o644)
}
