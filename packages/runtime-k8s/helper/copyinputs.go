package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type copyStats struct{ files, bytes int64 }

type fileJob struct {
	source, destination string
	info                fs.FileInfo
}

type dirFixup struct {
	path string
	info fs.FileInfo
}

// copyTrees copies every input tree into its destination with `parallel` files in flight (one tar stream
// per input would serialise on one core; inputs are many small files as often as a few big ones). Modes,
// symlinks and modification times are kept, and ownership too when running as root, so the copy looks
// like the artifact did to the step that produced it. Each step gets its own copy: a task may change its
// inputs without other steps seeing it (Concourse's copy-on-write volumes).
func copyTrees(pairs []copyPair, parallel int) (copyStats, error) {
	if parallel < 1 {
		parallel = 1
	}
	var stats copyStats
	jobs := make(chan fileJob, 256)
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	var failed atomic.Bool

	var workers sync.WaitGroup
	for i := 0; i < parallel; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for job := range jobs {
				if failed.Load() {
					continue
				}
				n, err := copyFile(job)
				if err != nil {
					failed.Store(true)
					fail(err)
					continue
				}
				atomic.AddInt64(&stats.files, 1)
				atomic.AddInt64(&stats.bytes, n)
			}
		}()
	}

	var fixups []dirFixup
	var walkers sync.WaitGroup
	var fixupsMu sync.Mutex
	for _, pair := range pairs {
		walkers.Add(1)
		go func(pair copyPair) {
			defer walkers.Done()
			own, err := walkTree(pair, jobs, &failed)
			if err != nil {
				failed.Store(true)
				fail(err)
			}
			fixupsMu.Lock()
			fixups = append(fixups, own...)
			fixupsMu.Unlock()
		}(pair)
	}
	walkers.Wait()
	close(jobs)
	workers.Wait()
	if firstErr != nil {
		return stats, firstErr
	}
	// Directories last and deepest first: writing into them changed their mtimes, and a read-only mode
	// set earlier would have stopped the copy.
	sort.Slice(fixups, func(i, j int) bool { return len(fixups[i].path) > len(fixups[j].path) })
	for _, fixup := range fixups {
		applyMetadata(fixup.path, fixup.info)
	}
	return stats, nil
}

func walkTree(pair copyPair, jobs chan<- fileJob, failed *atomic.Bool) ([]dirFixup, error) {
	rootInfo, err := os.Stat(pair.source)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", pair.source, err)
	}
	if !rootInfo.IsDir() {
		return nil, fmt.Errorf("input %s is not a directory", pair.source)
	}
	var fixups []dirFixup
	err = filepath.WalkDir(pair.source, func(path string, entry fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		if failed.Load() {
			return filepath.SkipAll
		}
		relative, err := filepath.Rel(pair.source, path)
		if err != nil {
			return err
		}
		destination := filepath.Join(pair.destination, relative)
		info, err := entry.Info()
		if err != nil {
			return err
		}
		switch {
		case entry.IsDir():
			// Owner-writable until the fixup, whatever the artifact says.
			if err := os.MkdirAll(destination, 0o700); err != nil {
				return err
			}
			fixups = append(fixups, dirFixup{destination, info})
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			_ = os.Remove(destination)
			if err := os.Symlink(target, destination); err != nil {
				return err
			}
			chownLike(destination, info, true)
		case info.Mode().IsRegular():
			jobs <- fileJob{path, destination, info}
		default:
			// FIFOs, sockets and devices are not artifact content.
		}
		return nil
	})
	return fixups, err
}

func copyFile(job fileJob) (int64, error) {
	source, err := os.Open(job.source)
	if err != nil {
		return 0, err
	}
	defer source.Close()
	_ = os.Remove(job.destination)
	target, err := os.OpenFile(job.destination, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	// *os.File to *os.File: Go uses copy_file_range, so the kernel copies (reflinks where it can).
	n, err := io.Copy(target, source)
	if closeErr := target.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return n, fmt.Errorf("copy %s: %w", job.source, err)
	}
	applyMetadata(job.destination, job.info)
	return n, nil
}

func applyMetadata(path string, info fs.FileInfo) {
	chownLike(path, info, false)
	_ = os.Chmod(path, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	_ = os.Chtimes(path, time.Now(), info.ModTime())
}

// chownLike keeps the artifact's owner when we may (root in the init container); otherwise the copy belongs
// to whoever runs the helper, which is fine.
func chownLike(path string, info fs.FileInfo, symlink bool) {
	if os.Geteuid() != 0 {
		return
	}
	stat, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	var err error
	if symlink {
		err = os.Lchown(path, int(stat.Uid), int(stat.Gid))
	} else {
		err = os.Chown(path, int(stat.Uid), int(stat.Gid))
	}
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		fmt.Fprintf(os.Stderr, "jetbridge-helper: chown %s: %v\n", path, err)
	}
}
