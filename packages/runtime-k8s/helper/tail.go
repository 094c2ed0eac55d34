package main

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const heartbeatInterval = 20 * time.Second

// runTail streams a process's stdout and stderr from the given byte offsets until its status file appears,
// then sends the exit status. Resumable: after a dropped exec JetBridge calls it again with the offsets it
// has, and gets every byte exactly once. `--from-end` starts at the current end (attach).
func runTail(args []string) error {
	flags := flag.NewFlagSet("tail", flag.ContinueOnError)
	id := flags.String("id", "", "process id")
	stdoutOffset := flags.Int64("stdout-offset", 0, "stdout bytes already received")
	stderrOffset := flags.Int64("stderr-offset", 0, "stderr bytes already received")
	fromEnd := flags.Bool("from-end", false, "start at the current end of the output")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	out := newFrameWriter(os.Stdout)
	dir, err := processDir(*id)
	if err != nil {
		return out.fail("bad-request", err.Error())
	}
	if _, err := os.Stat(dir); err != nil {
		return out.fail("not-found", "no process "+*id)
	}
	offsets := [2]int64{*stdoutOffset, *stderrOffset}
	if *fromEnd {
		for i, name := range []string{"stdout", "stderr"} {
			if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
				offsets[i] = info.Size()
			}
		}
	}
	pid, _ := readPidFile(filepath.Join(dir, "pid"))
	if err := out.json(frameStarted, map[string]int64{"pid": int64(pid), "stdout": offsets[0], "stderr": offsets[1]}); err != nil {
		return err
	}
	if err := out.flush(); err != nil {
		return err
	}
	return follow(dir, offsets, out)
}

// follow sends output frames from `offsets` on, then the exit frame once the status file exists and both
// files are drained. If the supervisor is gone without a status (killed), it says so instead of waiting.
func follow(dir string, offsets [2]int64, out *frameWriter) error {
	names := [2]string{"stdout", "stderr"}
	kinds := [2]byte{frameStdout, frameStderr}
	var files [2]*os.File
	defer func() {
		for _, file := range files {
			if file != nil {
				file.Close()
			}
		}
	}()
	changes, pollInterval := watchDirectory(dir)
	buffer := make([]byte, 64<<10)
	lastSent := time.Now()
	supervisorPid, _ := readPidFile(filepath.Join(dir, "supervisor.pid"))
	statusPath := filepath.Join(dir, "status")
	for {
		// Checked before draining: anything written before the status exists is sent before the exit frame.
		_, statErr := os.Stat(statusPath)
		finished := statErr == nil
		for i := range files {
			if files[i] == nil {
				file, err := os.Open(filepath.Join(dir, names[i]))
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						continue
					}
					return err
				}
				files[i] = file
			}
			for {
				n, err := files[i].ReadAt(buffer, offsets[i])
				if n > 0 {
					if werr := out.frame(kinds[i], buffer[:n]); werr != nil {
						return werr
					}
					offsets[i] += int64(n)
					lastSent = time.Now()
				}
				if err != nil && err != io.EOF {
					return err
				}
				if n < len(buffer) {
					break
				}
			}
		}
		if err := out.flush(); err != nil {
			return err // JetBridge went away; it resumes with a new tail
		}
		if finished {
			status, err := readExitStatus(dir)
			if err != nil {
				return out.fail("internal", err.Error())
			}
			if err := out.json(frameExit, status); err != nil {
				return err
			}
			return out.flush()
		}
		if supervisorPid > 0 && !isAlive(supervisorPid) {
			if _, err := os.Stat(statusPath); err == nil {
				continue
			}
			return out.fail("lost", "the process's supervisor is gone and left no exit status")
		}
		select {
		case <-changes:
		case <-time.After(pollInterval):
		}
		if time.Since(lastSent) > heartbeatInterval {
			if err := out.frame(frameHeartbeat, nil); err != nil {
				return err
			}
			if err := out.flush(); err != nil {
				return err
			}
			lastSent = time.Now()
		}
	}
}

// watchDirectory wakes follow when a file in dir changes (inotify); without inotify it polls faster.
func watchDirectory(dir string) (<-chan struct{}, time.Duration) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		return nil, 50 * time.Millisecond
	}
	mask := uint32(syscall.IN_MODIFY | syscall.IN_CREATE | syscall.IN_MOVED_TO | syscall.IN_CLOSE_WRITE)
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, 50 * time.Millisecond
	}
	changes := make(chan struct{}, 1)
	go func() {
		buffer := make([]byte, 4096)
		for {
			n, err := syscall.Read(fd, buffer)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				return
			}
			select {
			case changes <- struct{}{}:
			default:
			}
		}
	}()
	// A safety net for filesystems whose events do not reach us.
	return changes, 500 * time.Millisecond
}
