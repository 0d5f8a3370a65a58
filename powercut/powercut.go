// Package powercut is a file system for tests that loses what a power cut
// loses. It is a FUSE loopback over a directory: reads and writes pass
// through at once, but a write becomes durable only when its file is
// fsynced, and a new, renamed or removed name only when its directory is
// fsynced. Cut drops everything else, file data and directory entries
// alike, and leaves the durable directory holding exactly the synced state,
// which the next Mount of it shows.
//
// This is the harshest outcome POSIX allows after a power cut: no unsynced
// write survives (a real disk may keep some of them, in any order), so
// whatever survives a cut here survives on any disk that honours fsync. A
// write that is durable on a real disk without an fsync (an O_SYNC or
// O_DIRECT file) is not modelled; nor are hard links, symbolic links and
// special files, which the mount refuses.
//
// The tests that need it call Available first: FUSE needs /dev/fuse and
// fusermount3 (Debian's fuse3 package).
package powercut

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// blockSize is the unit in which unsynced writes are remembered: an fsync
// copies the blocks written since the last one.
const blockSize = 4096

// FS is a mounted power-cut file system.
type FS struct {
	mountpoint string
	dir        string // the durable directory: the synced state after a cut
	work       string // holds live and store
	live       string // every write, synced or not: what the mount shows
	store      string // the synced content of each file, named by its identity
	server     *fuse.Server

	// cutting is held for reading by each fsync while it copies, and for
	// writing by a cut: a cut waits for the fsyncs in progress, so that an
	// fsync is either wholly durable or not at all.
	cutting sync.RWMutex
	down    atomic.Bool   // the power is cut: every operation fails with EIO
	downCh  chan struct{} // closed when down is set
	cutErr  error         // of writing the durable directory at the cut

	armed atomic.Bool // a trigger is set: writes and fsyncs look at it

	mu      sync.Mutex
	ids     map[uint64]uint64           // inode number in live to identity
	files   map[uint64]*fileState       // by identity
	entries map[uint64]map[string]entry // the synced entries of each directory, by identity
	rootID  uint64
	nextID  uint64
	trigger *trigger
	stats   Stats
}

// entry is a synced directory entry.
type entry struct {
	id   uint64
	dir  bool
	mode fs.FileMode
}

// fileState is what the file system knows of one file, across its names
// and its open handles.
type fileState struct {
	id uint64
	// syncing is held through an fsync, so that a second fsync of the
	// same file returns only once the first one's data is durable.
	syncing sync.Mutex
	dirty   map[int64]struct{} // blocks written since the last fsync; under FS.mu
	stored  bool               // store holds its synced content; under FS.mu
}

// Stats counts what the mounted file system was asked to do.
type Stats struct {
	Writes    int64 // writes to files
	FileSyncs int64 // fsyncs of files that made data durable
	DirSyncs  int64 // fsyncs of directories that made entries durable
}

type triggerOp int

const (
	beforeSync triggerOp = iota
	afterWrite
)

// trigger is a cut armed for a moment to come.
type trigger struct {
	op   triggerOp
	path string // relative to the mount's root
	left int    // operations on path until the cut
}

// Available reports why FUSE cannot be used here, or nil if it can.
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("powercut: FUSE is not usable: %w", err)
	}
	f.Close()
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return errors.New("powercut: fusermount3 is not installed (Debian: apt-get install fuse3)")
	}
	return nil
}

// Mount mounts at mountpoint a power-cut file system showing dir, which
// must hold only directories and regular files; everything in it counts as
// synced. dir is not touched until the cut (or Unmount); from then on it
// holds what was durable.
func Mount(mountpoint, dir string) (*FS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "powercut-")
	if err != nil {
		return nil, err
	}
	pc := &FS{
		mountpoint: mountpoint, dir: dir, work: work,
		live: filepath.Join(work, "live"), store: filepath.Join(work, "store"),
		downCh: make(chan struct{}),
		ids:    map[uint64]uint64{}, files: map[uint64]*fileState{}, entries: map[uint64]map[string]entry{},
	}
	if err := pc.load(); err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("powercut: %w", err)
	}

	var st syscall.Stat_t
	if err := syscall.Stat(pc.live, &st); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	data := &fusefs.LoopbackRoot{Path: pc.live, Dev: uint64(st.Dev)}
	data.NewNode = func(data *fusefs.LoopbackRoot, _ *fusefs.Inode, _ string, _ *syscall.Stat_t) fusefs.InodeEmbedder {
		return &node{LoopbackNode: fusefs.LoopbackNode{RootData: data}, pc: pc}
	}
	root := &node{LoopbackNode: fusefs.LoopbackNode{RootData: data}, pc: pc}
	data.RootNode = root
	pc.server, err = fusefs.Mount(mountpoint, root, &fusefs.Options{
		MountOptions: fuse.MountOptions{FsName: "powercut", Name: "powercut", DisableXAttrs: true},
	})
	if err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("powercut: mount %s: %w", mountpoint, err)
	}
	return pc, nil
}

// load copies dir into live, and each file's content into store, and
// records every entry as synced.
func (pc *FS) load() error {
	if err := os.Mkdir(pc.store, 0o700); err != nil {
		return err
	}
	if err := copyTree(pc.dir, pc.live); err != nil {
		return err
	}
	return filepath.WalkDir(pc.live, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return err
		}
		id := pc.idOf(st.Ino)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if path == pc.live {
			pc.rootID = id
			pc.entries[id] = map[string]entry{}
			return nil
		}
		parent, err := pc.liveID(filepath.Dir(path))
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			pc.entries[id] = map[string]entry{}
			pc.entries[parent][d.Name()] = entry{id: id, dir: true, mode: info.Mode().Perm()}
		case d.Type().IsRegular():
			if err := copyFile(path, pc.stored(id), 0o600); err != nil {
				return err
			}
			pc.fileOf(id).stored = true
			pc.entries[parent][d.Name()] = entry{id: id, mode: info.Mode().Perm()}
		default:
			return fmt.Errorf("%s is neither a directory nor a regular file", path)
		}
		return nil
	})
}

// liveID returns the identity of the file or directory at path in live.
func (pc *FS) liveID(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return 0, err
	}
	return pc.idOf(st.Ino), nil
}

// idOf returns the identity of the live inode ino, giving it one if it has
// none. Called with mu held.
func (pc *FS) idOf(ino uint64) uint64 {
	id, ok := pc.ids[ino]
	if !ok {
		pc.nextID++
		id = pc.nextID
		pc.ids[ino] = id
	}
	return id
}

// forget drops the identity of a live inode whose last name is gone: a new
// file that gets the inode number again is another file.
func (pc *FS) forget(ino uint64) {
	pc.mu.Lock()
	delete(pc.ids, ino)
	pc.mu.Unlock()
}

// fileOf returns the state of the file with identity id. Called with mu
// held.
func (pc *FS) fileOf(id uint64) *fileState {
	f := pc.files[id]
	if f == nil {
		f = &fileState{id: id, dirty: map[int64]struct{}{}}
		pc.files[id] = f
	}
	return f
}

// stored is the path of the synced content of the file with identity id.
func (pc *FS) stored(id uint64) string {
	return filepath.Join(pc.store, strconv.FormatUint(id, 10))
}

// Down is closed when the power is cut, by Cut or by an armed trigger.
func (pc *FS) Down() <-chan struct{} {
	return pc.downCh
}

// Stats returns what the file system was asked to do so far.
func (pc *FS) Stats() Stats {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.stats
}

// CutBeforeSync arms a cut at the nth fsync (from 1) of the file at path,
// relative to the mount's root: that fsync makes nothing durable and fails
// with EIO, and the power is cut. It replaces any trigger armed before.
func (pc *FS) CutBeforeSync(path string, n int) {
	pc.arm(&trigger{op: beforeSync, path: filepath.Clean(path), left: n})
}

// CutAfterWrite arms a cut right after the nth write (from 1) to the file at
// path, relative to the mount's root: the write succeeds and is lost with
// everything else not synced. It replaces any trigger armed before.
func (pc *FS) CutAfterWrite(path string, n int) {
	pc.arm(&trigger{op: afterWrite, path: filepath.Clean(path), left: n})
}

func (pc *FS) arm(t *trigger) {
	pc.mu.Lock()
	pc.trigger = t
	pc.mu.Unlock()
	pc.armed.Store(true)
}

// fires reports whether an operation op on n is the armed trigger's
// moment, disarming it if so.
func (pc *FS) fires(op triggerOp, n *node) bool {
	if !pc.armed.Load() {
		return false
	}
	path := n.Path(nil)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	t := pc.trigger
	if t == nil || t.op != op || t.path != path {
		return false
	}
	if t.left--; t.left > 0 {
		return false
	}
	pc.trigger = nil
	pc.armed.Store(false)
	return true
}

// Cut cuts the power: every write not fsynced, and every directory entry
// created, renamed or removed since its directory was last fsynced, is
// dropped, and the durable directory is rewritten with what remains. From
// then on every operation on the mount fails with EIO; Unmount it and Mount
// the durable directory again to see what a restarted machine would. A
// second Cut does nothing.
func (pc *FS) Cut() error {
	pc.cutting.Lock()
	defer pc.cutting.Unlock()
	if pc.down.Load() {
		return pc.cutErr
	}
	pc.down.Store(true)
	close(pc.downCh)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.cutErr = pc.writeDurable()
	return pc.cutErr
}

// writeDurable replaces the durable directory's content with the synced
// state. Called with mu held.
func (pc *FS) writeDurable() error {
	if err := emptyDir(pc.dir); err != nil {
		return err
	}
	seen := map[uint64]bool{pc.rootID: true}
	var write func(id uint64, path string) error
	write = func(id uint64, path string) error {
		for name, e := range pc.entries[id] {
			target := filepath.Join(path, name)
			if !e.dir {
				if err := copyFile(pc.stored(e.id), target, e.mode); err != nil {
					return err
				}
				continue
			}
			if seen[e.id] { // a directory renamed into itself: keep one copy
				continue
			}
			seen[e.id] = true
			if err := os.Mkdir(target, e.mode|0o700); err != nil {
				return err
			}
			if err := write(e.id, target); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(pc.rootID, pc.dir); err != nil {
		return fmt.Errorf("powercut: write the synced state to %s: %w", pc.dir, err)
	}
	return nil
}

// Unmount unmounts the file system. Without a cut before, it is a clean
// shutdown: everything written is kept in the durable directory, as sync(2)
// before a power-off would keep it. The processes using the mount must be
// gone.
func (pc *FS) Unmount() error {
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// Unmounting is refused while the kernel still releases the files
		// of a process just killed.
		if err = pc.server.Unmount(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		// Detach it anyway, so that the mount point can be removed once
		// the last file on it is closed.
		exec.Command("fusermount3", "-u", "-z", pc.mountpoint).Run()
		return fmt.Errorf("powercut: unmount %s: %w", pc.mountpoint, err)
	}
	pc.cutting.Lock()
	defer pc.cutting.Unlock()
	if !pc.down.Load() {
		pc.down.Store(true)
		close(pc.downCh)
		if err := emptyDir(pc.dir); err != nil {
			return err
		}
		if err := copyTree(pc.live, pc.dir); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(pc.work); err != nil {
		return err
	}
	return pc.cutErr
}

// wrote records that n bytes were written at off to f, and cuts the power if
// that was the armed moment.
func (pc *FS) wrote(f *file, off, n int64) {
	pc.mu.Lock()
	pc.stats.Writes++
	markDirty(f.state, off, off+n)
	pc.mu.Unlock()
	if pc.fires(afterWrite, f.node) {
		pc.Cut()
	}
}

// markDirty records that the bytes [from, to) of a file changed. Called
// with mu held.
func markDirty(f *fileState, from, to int64) {
	for b := from / blockSize; b*blockSize < to; b++ {
		f.dirty[b] = struct{}{}
	}
}

// resized records a change of a file's size from old to size: the bytes
// between them, cut off or added as zeros, differ from the synced ones.
func (pc *FS) resized(f *fileState, old, size int64) {
	pc.mu.Lock()
	markDirty(f, min(old, size), max(old, size))
	pc.mu.Unlock()
}

// syncFile makes durable what was written to the file open as f.
func (pc *FS) syncFile(f *file) syscall.Errno {
	st := f.state
	st.syncing.Lock()
	defer st.syncing.Unlock()
	if pc.fires(beforeSync, f.node) {
		pc.Cut()
		return syscall.EIO
	}
	pc.cutting.RLock()
	defer pc.cutting.RUnlock()
	if pc.down.Load() {
		return syscall.EIO
	}
	pc.mu.Lock()
	dirty := st.dirty
	st.dirty = map[int64]struct{}{}
	pc.mu.Unlock()
	if err := pc.copyBlocks(f.fd, st.id, dirty); err != nil {
		pc.mu.Lock()
		for b := range dirty {
			st.dirty[b] = struct{}{}
		}
		pc.mu.Unlock()
		return fusefs.ToErrno(err)
	}
	pc.mu.Lock()
	st.stored = true
	pc.stats.FileSyncs++
	pc.mu.Unlock()
	return 0
}

// copyBlocks copies the blocks of the live file open as fd into the synced
// copy of the file with identity id, and gives that copy the live size.
func (pc *FS) copyBlocks(fd int, id uint64, blocks map[int64]struct{}) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	out, err := os.OpenFile(pc.stored(id), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, blockSize)
	for _, b := range slices.Sorted(maps.Keys(blocks)) {
		off := b * blockSize
		if off >= st.Size {
			continue
		}
		n, err := syscall.Pread(fd, buf[:min(blockSize, st.Size-off)], off)
		if err != nil {
			return err
		}
		if _, err := out.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return out.Truncate(st.Size)
}

// syncDir makes the current entries of the directory n durable: the names
// it holds now are the ones a restart finds, each with its file's synced
// content (empty for a file never fsynced).
func (pc *FS) syncDir(n *node) syscall.Errno {
	pc.cutting.RLock()
	defer pc.cutting.RUnlock()
	if pc.down.Load() {
		return syscall.EIO
	}
	path := n.livePath()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	dirID, err := pc.liveID(path)
	if err != nil {
		return fusefs.ToErrno(err)
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return fusefs.ToErrno(err)
	}
	synced := make(map[string]entry, len(des))
	for _, d := range des {
		id, err := pc.liveID(filepath.Join(path, d.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) { // removed meanwhile
				continue
			}
			return fusefs.ToErrno(err)
		}
		info, err := d.Info()
		if err != nil {
			continue
		}
		switch {
		case d.IsDir():
			if pc.entries[id] == nil {
				pc.entries[id] = map[string]entry{}
			}
			synced[d.Name()] = entry{id: id, dir: true, mode: info.Mode().Perm()}
		case d.Type().IsRegular():
			if f := pc.fileOf(id); !f.stored {
				// The name is durable before any of the data: an empty file.
				out, err := os.OpenFile(pc.stored(id), os.O_WRONLY|os.O_CREATE, 0o600)
				if err != nil {
					return fusefs.ToErrno(err)
				}
				out.Close()
				f.stored = true
			}
			synced[d.Name()] = entry{id: id, mode: info.Mode().Perm()}
		}
	}
	pc.entries[dirID] = synced
	pc.stats.DirSyncs++
	return 0
}

// node is a file or directory of the mount.
type node struct {
	fusefs.LoopbackNode
	pc *FS
}

// livePath is where n is in live.
func (n *node) livePath() string {
	return filepath.Join(n.pc.live, n.Path(nil))
}

// open wraps a loopback file handle so that its writes and fsyncs are
// tracked.
func (n *node) open(fh fusefs.FileHandle) (fusefs.FileHandle, syscall.Errno) {
	lf, ok := fh.(*fusefs.LoopbackFile)
	if !ok {
		return nil, syscall.EIO
	}
	fd, _ := lf.PassthroughFd() // the descriptor stays open until Release
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		lf.Release(context.Background())
		return nil, fusefs.ToErrno(err)
	}
	n.pc.mu.Lock()
	state := n.pc.fileOf(n.pc.idOf(st.Ino))
	n.pc.mu.Unlock()
	return &file{LoopbackFile: lf, pc: n.pc, state: state, fd: fd, node: n}, 0
}

// sizeBefore returns the size of the file at path in live before an
// operation that may truncate it, and its state; ok is false if there is no
// such file.
func (pc *FS) sizeBefore(path string) (f *fileState, size int64, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, 0, false
	}
	pc.mu.Lock()
	f = pc.fileOf(pc.idOf(st.Ino))
	pc.mu.Unlock()
	return f, st.Size, true
}

var _ = (fusefs.NodeCreater)((*node)(nil))

// Create creates and opens a file; its name is durable once n is fsynced.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if n.pc.down.Load() {
		return nil, nil, 0, syscall.EIO
	}
	state, old, existed := n.pc.sizeBefore(filepath.Join(n.livePath(), name))
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if existed && flags&syscall.O_TRUNC != 0 {
		n.pc.resized(state, old, 0)
	}
	f, errno := ch.Operations().(*node).open(fh)
	return ch, f, fl, errno
}

var _ = (fusefs.NodeOpener)((*node)(nil))

// Open opens a file, tracking its writes.
func (n *node) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if n.pc.down.Load() {
		return nil, 0, syscall.EIO
	}
	state, old, existed := n.pc.sizeBefore(n.livePath())
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	if existed && flags&syscall.O_TRUNC != 0 {
		n.pc.resized(state, old, 0)
	}
	f, errno := n.open(fh)
	return f, fl, errno
}

var _ = (fusefs.NodeSetattrer)((*node)(nil))

// Setattr changes attributes; a truncation through a path (no open file) is
// tracked here, one through an open file by file.Setattr.
func (n *node) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.pc.down.Load() {
		return syscall.EIO
	}
	size, resizing := in.GetSize()
	if _, ok := fh.(*file); ok || !resizing {
		return n.LoopbackNode.Setattr(ctx, fh, in, out)
	}
	state, old, existed := n.pc.sizeBefore(n.livePath())
	errno := n.LoopbackNode.Setattr(ctx, fh, in, out)
	if errno == 0 && existed {
		n.pc.resized(state, old, int64(size))
	}
	return errno
}

var _ = (fusefs.NodeOpendirHandler)((*node)(nil))

// OpendirHandle opens a directory whose fsync makes its entries durable.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	ds, ok := fh.(dirStream)
	if !ok {
		return nil, 0, syscall.EIO
	}
	return &dirHandle{dirStream: ds, node: n}, fl, 0
}

var _ = (fusefs.NodeMkdirer)((*node)(nil))

// Mkdir makes a directory; it is durable once n is fsynced.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if n.pc.down.Load() {
		return nil, syscall.EIO
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

var _ = (fusefs.NodeUnlinker)((*node)(nil))

// Unlink removes a name; the removal is durable once n is fsynced.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, func() syscall.Errno { return n.LoopbackNode.Unlink(ctx, name) })
}

var _ = (fusefs.NodeRmdirer)((*node)(nil))

// Rmdir removes a directory; the removal is durable once n is fsynced.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, func() syscall.Errno { return n.LoopbackNode.Rmdir(ctx, name) })
}

// remove runs op, which removes the entry name of n, and forgets the
// identity of what it named.
func (n *node) remove(name string, op func() syscall.Errno) syscall.Errno {
	if n.pc.down.Load() {
		return syscall.EIO
	}
	var st syscall.Stat_t
	statErr := syscall.Lstat(filepath.Join(n.livePath(), name), &st)
	errno := op()
	if errno == 0 && statErr == nil {
		n.pc.forget(st.Ino)
	}
	return errno
}

var _ = (fusefs.NodeRenamer)((*node)(nil))

// Rename moves an entry; the move is durable once both directories are
// fsynced (each side on its own, as on a real disk).
func (n *node) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.pc.down.Load() {
		return syscall.EIO
	}
	to, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	var from, replaced syscall.Stat_t
	fromErr := syscall.Lstat(filepath.Join(n.livePath(), name), &from)
	replacedErr := syscall.Lstat(filepath.Join(to.livePath(), newName), &replaced)
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	const exchange = 2 // RENAME_EXCHANGE: both files live on
	if errno == 0 && flags&exchange == 0 && replacedErr == nil && (fromErr != nil || replaced.Ino != from.Ino) {
		n.pc.forget(replaced.Ino)
	}
	return errno
}

var _ = (fusefs.NodeLinker)((*node)(nil))

// Link is refused: a file has one name here, so that its synced name is
// simply the one its directory's last fsync saw.
func (n *node) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

var _ = (fusefs.NodeSymlinker)((*node)(nil))

// Symlink is refused: only directories and regular files are modelled.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

var _ = (fusefs.NodeMknoder)((*node)(nil))

// Mknod is refused: only directories and regular files are modelled.
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

var _ = (fusefs.NodeCopyFileRanger)((*node)(nil))

// CopyFileRange is not offered, so that the kernel copies with plain
// writes, which are tracked.
func (n *node) CopyFileRange(ctx context.Context, fhIn fusefs.FileHandle, offIn uint64, out *fusefs.Inode, fhOut fusefs.FileHandle, offOut uint64, len uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// file is an open file whose writes are remembered until it is fsynced.
type file struct {
	*fusefs.LoopbackFile
	pc    *FS
	state *fileState
	fd    int // the loopback file's descriptor, to copy synced data from
	node  *node
}

// PassthroughFd refuses kernel passthrough, which would send writes to the
// live file without the file system seeing them.
func (f *file) PassthroughFd() (int, bool) {
	return -1, false
}

// Read reads the live file: unsynced writes are visible until the cut.
func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if f.pc.down.Load() {
		return nil, syscall.EIO
	}
	return f.LoopbackFile.Read(ctx, buf, off)
}

// Write writes to the live file; the data is durable at the next fsync.
func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if f.pc.down.Load() {
		return 0, syscall.EIO
	}
	n, errno := f.LoopbackFile.Write(ctx, data, off)
	if n > 0 {
		f.pc.wrote(f, off, int64(n))
	}
	return n, errno
}

// Writev is Write for data in pieces.
func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if f.pc.down.Load() {
		return 0, syscall.EIO
	}
	n, errno := f.LoopbackFile.Writev(ctx, data, off)
	if n > 0 {
		f.pc.wrote(f, off, int64(n))
	}
	return n, errno
}

// Fsync makes the file's data durable (fdatasync does the same).
func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.pc.syncFile(f)
}

// Setattr changes attributes, tracking a change of size.
func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if f.pc.down.Load() {
		return syscall.EIO
	}
	size, resizing := in.GetSize()
	if !resizing {
		return f.LoopbackFile.Setattr(ctx, in, out)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return fusefs.ToErrno(err)
	}
	errno := f.LoopbackFile.Setattr(ctx, in, out)
	if errno == 0 {
		f.pc.resized(f.state, st.Size, int64(size))
	}
	return errno
}

// Allocate reserves space; the bytes it may add count as written.
func (f *file) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	if f.pc.down.Load() {
		return syscall.EIO
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return fusefs.ToErrno(err)
	}
	errno := f.LoopbackFile.Allocate(ctx, off, size, mode)
	if errno == 0 {
		f.pc.resized(f.state, st.Size, max(st.Size, int64(off+size)))
		f.pc.mu.Lock()
		markDirty(f.state, int64(off), int64(off+size))
		f.pc.mu.Unlock()
	}
	return errno
}

// Ioctl is refused: an ioctl could change the file behind the tracking.
func (f *file) Ioctl(ctx context.Context, cmd uint32, arg uint64, input []byte, output []byte) (int32, syscall.Errno) {
	return 0, syscall.ENOTTY
}

// dirStream is what the loopback's directory handle does.
type dirStream interface {
	fusefs.FileReaddirenter
	fusefs.FileReleasedirer
	fusefs.FileSeekdirer
	fusefs.FileFsyncdirer
}

// dirHandle is an open directory whose fsync makes its entries durable.
type dirHandle struct {
	dirStream
	node *node
}

// Fsyncdir makes the directory's entries durable.
func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.node.pc.syncDir(d.node)
}

// copyTree copies the directories and regular files under from into to,
// which is created if needed.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()|0o700); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm()|0o700)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return fmt.Errorf("%s is neither a directory nor a regular file", path)
	})
}

// copyFile copies the file from to to, replacing it.
func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// emptyDir removes everything in dir.
func emptyDir(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range des {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			return err
		}
	}
	return nil
}
