package main

import (
	"archive/tar"
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Exit statuses JetBridge maps to its errors.
const (
	exitNotFound      = 3 // tar-out: the path does not exist (FileNotFoundError)
	exitUnsafeArchive = 4 // tar-in: an entry would land outside the directory, or the archive is corrupt
)

type tarOptions struct {
	root     string
	relative string
	// report: print {"jetbridgeTar":{"bytes":N}} when done (tar-in on stdout, tar-out on stderr), so the web
	// can check that exactly the archive it sent was read, or that it received every byte written.
	report bool
}

func tarFlags(name string, args []string) (tarOptions, error) {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	dir := flags.String("dir", "", "the directory (an artifact's root)")
	inside := flags.String("path", ".", "path inside it")
	report := flags.Bool("report", false, "print the archive's byte count as JSON when done")
	if err := flags.Parse(args); err != nil {
		return tarOptions{}, usageError{err.Error()}
	}
	if *dir == "" || !filepath.IsAbs(*dir) {
		return tarOptions{}, usageError{name + " needs an absolute --dir"}
	}
	relative, err := cleanRelative(*inside)
	if err != nil {
		return tarOptions{}, exitError{exitUnsafeArchive, fmt.Sprintf("--path %q: %v", *inside, err)}
	}
	return tarOptions{root: filepath.Clean(*dir), relative: relative, report: *report}, nil
}

// countingReader and countingWriter measure the archive itself, below any buffering.
type countingReader struct {
	reader io.Reader
	bytes  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.reader.Read(p)
	c.bytes += int64(n)
	return n, err
}

type countingWriter struct {
	writer io.Writer
	bytes  int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.writer.Write(p)
	c.bytes += int64(n)
	return n, err
}

func writeReport(to io.Writer, bytes int64) {
	fmt.Fprintf(to, "{\"jetbridgeTar\":{\"bytes\":%d}}\n", bytes)
}

// cleanRelative normalises a path inside a directory ("" for its root); absolute or climbing paths are refused.
func cleanRelative(name string) (string, error) {
	name = strings.TrimLeft(name, "/")
	if strings.HasPrefix(path.Clean("/"+name), "/..") {
		return "", errors.New("climbs out of the directory")
	}
	cleaned := path.Clean(name)
	if cleaned == "." {
		return "", nil
	}
	for _, part := range strings.Split(cleaned, "/") {
		if part == ".." {
			return "", errors.New("climbs out of the directory")
		}
	}
	return cleaned, nil
}

// resolveInside walks `relative` below root without following symlinks, optionally creating directories.
func resolveInside(root, relative string, create bool) (string, error) {
	current := root
	if relative == "" {
		return current, nil
	}
	for _, part := range strings.Split(relative, "/") {
		current = filepath.Join(current, part)
		info, err := os.Lstat(current)
		switch {
		case err == nil && info.Mode()&fs.ModeSymlink != 0:
			return "", exitError{exitUnsafeArchive, fmt.Sprintf("%s is a symlink: refusing to go through it", current)}
		case err == nil && !info.IsDir():
			return "", exitError{exitUnsafeArchive, fmt.Sprintf("%s is not a directory", current)}
		case err == nil:
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(current, 0o755); err != nil {
				return "", err
			}
		default:
			return "", err
		}
	}
	return current, nil
}

// runTarOut writes an uncompressed tar of D/P: entries relative to it, or the one file under its base name.
func runTarOut(args []string) error {
	options, err := tarFlags("tar-out", args)
	if err != nil {
		return err
	}
	root, relative := options.root, options.relative
	parent, err := resolveInside(root, path.Dir(relative), false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return exitError{exitNotFound, "not found: " + relative}
		}
		return err
	}
	target := parent
	if relative != "" {
		target = filepath.Join(parent, path.Base(relative))
	}
	info, err := os.Lstat(target)
	if err != nil {
		return exitError{exitNotFound, "not found: " + relative}
	}
	counted := &countingWriter{writer: os.Stdout}
	buffered := bufio.NewWriterSize(counted, 256<<10)
	writer := tar.NewWriter(buffered)
	if !info.IsDir() {
		if err := writeTarEntry(writer, target, filepath.Base(target), info); err != nil {
			return err
		}
	} else {
		err := filepath.WalkDir(target, func(name string, entry fs.DirEntry, walkErr error) error {
			if walkErr != nil {
				return walkErr
			}
			rel, err := filepath.Rel(target, name)
			if err != nil || rel == "." {
				return err
			}
			entryInfo, err := entry.Info()
			if err != nil {
				return err
			}
			return writeTarEntry(writer, name, filepath.ToSlash(rel), entryInfo)
		})
		if err != nil {
			return err
		}
	}
	if err := writer.Close(); err != nil {
		return err
	}
	if err := buffered.Flush(); err != nil {
		return err
	}
	if options.report {
		writeReport(os.Stderr, counted.bytes)
	}
	return nil
}

func writeTarEntry(writer *tar.Writer, name, entryName string, info fs.FileInfo) error {
	link := ""
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		var err error
		if link, err = os.Readlink(name); err != nil {
			return err
		}
	case info.IsDir(), info.Mode().IsRegular():
	default:
		return nil // FIFOs, sockets and devices are not artifact content
	}
	header, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	header.Name = entryName
	if info.IsDir() {
		header.Name += "/"
	}
	header.Uname, header.Gname = "", ""
	if err := writer.WriteHeader(header); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	// Exactly the size announced in the header, even if the file grows meanwhile.
	_, err = io.CopyBuffer(writer, io.LimitReader(file, header.Size), copyBuffer())
	return err
}

// copyBuffer is the one buffer file data moves through (tar runs one entry at a time). At 1 MiB, against
// io.Copy's 32 KiB, a large file takes 32 times fewer reads and writes, and the buffered reader/writer of
// the archive hand it over without copying it once more (their own buffers are smaller).
var sharedCopyBuffer []byte

func copyBuffer() []byte {
	if sharedCopyBuffer == nil {
		sharedCopyBuffer = make([]byte, 1<<20)
	}
	return sharedCopyBuffer
}

// writerOnly hides an *os.File's ReadFrom, which would otherwise fall back to io.Copy's 32 KiB buffer when
// its source is not a file (a tar reader never is).
type writerOnly struct{ io.Writer }

type pendingDir struct {
	path    string
	mode    fs.FileMode
	modTime time.Time
}

// runTarIn extracts stdin's tar into D/P with the artifact-store's rules: names that are absolute or climb out
// are refused, nothing is written through a symlink (every parent is checked, existing files are unlinked
// before being replaced), symlink targets must stay inside D, hard links must point at a file the archive
// already extracted, setuid/setgid/sticky bits are dropped and directories stay owner-writable.
func runTarIn(args []string) error {
	options, err := tarFlags("tar-in", args)
	if err != nil {
		return err
	}
	root, relative := options.root, options.relative
	destination, err := resolveInside(root, relative, true)
	if err != nil {
		return err
	}
	// Counted above the buffer: exactly the bytes the tar reader consumed, up to its end-of-archive marker.
	counted := &countingReader{reader: bufio.NewReaderSize(os.Stdin, 256<<10)}
	reader := tar.NewReader(counted)
	extracted := map[string]bool{}
	var directories []pendingDir
	unsafe := func(format string, values ...any) error {
		return exitError{exitUnsafeArchive, "unsafe archive: " + fmt.Sprintf(format, values...)}
	}
	for {
		header, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return exitError{exitUnsafeArchive, "corrupt archive: " + err.Error()}
		}
		if strings.HasPrefix(header.Name, "/") {
			return unsafe("absolute name %q", header.Name)
		}
		name, err := cleanRelative(header.Name)
		if err != nil {
			return unsafe("%q %v", header.Name, err)
		}
		if name == "" {
			continue
		}
		parent, err := resolveInside(destination, path.Dir(name), true)
		if err != nil {
			return err
		}
		target := filepath.Join(parent, path.Base(name))
		existing, lstatErr := os.Lstat(target)
		replace := func() error {
			if lstatErr != nil {
				return nil
			}
			if existing.IsDir() {
				return unsafe("%q would replace a directory", header.Name)
			}
			return os.Remove(target)
		}
		permissions := fs.FileMode(header.Mode) & fs.ModePerm
		switch header.Typeflag {
		case tar.TypeDir:
			if lstatErr == nil && !existing.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
				lstatErr = fs.ErrNotExist
			}
			if lstatErr != nil {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			directories = append(directories, pendingDir{target, permissions | 0o700, header.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			if err := replace(); err != nil {
				return err
			}
			file, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, copyErr := io.CopyBuffer(writerOnly{file}, reader, copyBuffer())
			closeErr := file.Close()
			if copyErr != nil {
				return exitError{exitUnsafeArchive, "corrupt archive: " + copyErr.Error()}
			}
			if closeErr != nil {
				return closeErr
			}
			_ = os.Chmod(target, permissions)
			_ = os.Chtimes(target, time.Now(), header.ModTime)
			chownTo(target, header, false)
			extracted[name] = true
		case tar.TypeSymlink:
			relativeToRoot, _ := filepath.Rel(root, target)
			if err := checkSymlinkTarget(filepath.ToSlash(relativeToRoot), header.Linkname); err != nil {
				return unsafe("symlink %q -> %q %v", header.Name, header.Linkname, err)
			}
			if err := replace(); err != nil {
				return err
			}
			if err := os.Symlink(header.Linkname, target); err != nil {
				return err
			}
			chownTo(target, header, true)
		case tar.TypeLink:
			linked, err := cleanRelative(header.Linkname)
			if err != nil || !extracted[linked] {
				return unsafe("hard link %q -> %q does not point at a file of this archive", header.Name, header.Linkname)
			}
			if err := replace(); err != nil {
				return err
			}
			if err := os.Link(filepath.Join(destination, linked), target); err != nil {
				return err
			}
			extracted[name] = true
		default:
			// FIFOs and devices are skipped, as the artifact-store does.
		}
	}
	sort.Slice(directories, func(i, j int) bool { return len(directories[i].path) > len(directories[j].path) })
	for _, directory := range directories {
		_ = os.Chmod(directory.path, directory.mode)
		_ = os.Chtimes(directory.path, time.Now(), directory.modTime)
	}
	if options.report {
		writeReport(os.Stdout, counted.bytes)
	}
	return nil
}

// checkSymlinkTarget: relative, only leading `..` segments, no more of them than the link is deep.
func checkSymlinkTarget(linkPath, target string) error {
	if target == "" || strings.HasPrefix(target, "/") {
		return errors.New("is absolute or empty")
	}
	depth := strings.Count(path.Dir(linkPath), "/") + 1
	if path.Dir(linkPath) == "." {
		depth = 0
	}
	climbs, seenName := 0, false
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			if seenName {
				return errors.New("has '..' after a name")
			}
			climbs++
		default:
			seenName = true
		}
	}
	if climbs > depth {
		return errors.New("points outside the directory")
	}
	return nil
}

func chownTo(target string, header *tar.Header, symlink bool) {
	if os.Geteuid() != 0 {
		return
	}
	if symlink {
		_ = os.Lchown(target, header.Uid, header.Gid)
	} else {
		_ = syscall.Chown(target, header.Uid, header.Gid)
	}
}
