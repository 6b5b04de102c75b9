/* SPDX-License-Identifier: MIT */
/*
 * `omnivisor exec [options] [--] PROGRAM [ARGS...]`: load a Linux x86-64 program (and its ELF
 * interpreter) into a fresh guest address space, build its initial stack and run its first
 * thread on a vCPU. Everything that can be wrong with the input is reported before the guest
 * runs: one line `omnivisor: PROGRAM: reason`, exit status 1 (127 if the file does not exist).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "omnivisor/user.h"
#include "user/user.h"

/* Guest address space: a 1 TiB window (smaller if RLIMIT_AS forbids it); the stack at its
 * top, mmap below it, PIE at 2/3 (as Linux's ELF_ET_DYN_BASE). */
#define GUEST_WINDOW (1ULL << 40)
#define GUEST_WINDOW_MIN (1ULL << 32)
#define STACK_GAP (16 * GUEST_PAGE_SIZE)
#define MAX_SHEBANG_DEPTH 4

struct user_proc user_proc;
__thread struct user_thread *current_uthread;
char user_self_exe[PATH_MAX];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: omnivisor exec [options] [--] PROGRAM [ARGS...]\n"
		"\n"
		"Run a Linux x86-64 program (static or dynamic, ET_EXEC or PIE, or a #! script) on\n"
		"Omnivisor's virtual CPU. System calls go to the host kernel; the program never sees\n"
		"the runner's memory.\n"
		"\n"
		"options:\n"
		"  --trace LIST   comma-separated: syscall (every system call with arguments and\n"
		"                 result), exec (program loading), signal (signal delivery), cpu\n"
		"  -E VAR=VAL     set VAR in the program's environment\n"
		"  -U VAR         remove VAR from the program's environment\n"
		"  -i             start with an empty environment\n"
		"                 (variables named " USER_ENV_PREFIX "X=... reach the program as X=...)\n"
		"  --argv0 NAME   pass NAME as argv[0] instead of PROGRAM\n"
		"  -h, --help     show this text\n"
		"\n"
		"The exit status is the program's; a program killed by a signal kills omnivisor with\n"
		"the same signal.\n");
}

static int bad_input(const char *prog, const char *reason, int status)
{
	fprintf(stderr, "omnivisor: %s: %s\n", prog, reason);
	return status;
}

/* ---- environment --------------------------------------------------------------------------- */

struct env {
	char **v;
	size_t n, cap;
};

static int env_unset(struct env *e, const char *name)
{
	size_t len = strcspn(name, "=");
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=') {
			memmove(&e->v[i], &e->v[i + 1], (e->n - i) * sizeof(char *));
			e->n--;
			i--;
		}
	return 0;
}

static int env_set(struct env *e, char *kv)
{
	env_unset(e, kv);
	if (e->n + 2 > e->cap) {
		char **nv;
		e->cap = e->cap ? e->cap * 2 : 64;
		nv = realloc(e->v, e->cap * sizeof(char *));
		if (!nv)
			return -ENOMEM;
		e->v = nv;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
	return 0;
}

static const char *env_get(const struct env *e, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=')
			return e->v[i] + len + 1;
	return NULL;
}

/* ---- program lookup -------------------------------------------------------------------------- */

/*
 * PROGRAM is a path, as for execve(2); a bare name that does not exist in the working
 * directory is looked up in PATH, as execvp(3) and shells do.
 */
static int find_program(const char *name, const struct env *e, char *out, size_t outlen)
{
	const char *path;
	struct stat st;
	int err = ENOENT;

	if (strchr(name, '/') || lstat(name, &st) == 0) {
		snprintf(out, outlen, "%s", name);
		return 0;
	}
	path = env_get(e, "PATH");
	if (!path)
		path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(out, outlen, "%.*s%s%s", (int)len, path, len ? "/" : "", name);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			err = EACCES;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return -err;
}

/* Parse a "#!interp [arg]" line (Linux fs/binfmt_script.c). 0 or -ENOEXEC. */
static int parse_shebang(const char *buf, size_t len, char *interp, size_t ilen, char *arg,
			 size_t alen)
{
	char line[256];
	char *p, *end;
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	memcpy(line, buf, n);
	line[n] = 0;
	end = strchr(line, '\n');
	if (end)
		*end = 0;
	p = line + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, " \t");
	if (end == p)
		return -ENOEXEC;
	snprintf(interp, ilen, "%.*s", (int)(end - p), p);
	p = end;
	while (*p == ' ' || *p == '\t')
		p++;
	/* the rest of the line is one argument, trailing blanks removed */
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	snprintf(arg, alen, "%.*s", (int)(end - p), p);
	return 0;
}

static int open_program(const char *prog, const char *path, int *fdp, unsigned char *hdr,
			size_t *hlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		return bad_input(prog, strerror(e), e == ENOENT ? 127 : 1);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bad_input(prog, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file",
				 1);
	}
	if (access(path, X_OK) < 0) {
		int e = errno;
		close(fd);
		return bad_input(prog, strerror(e), 1);
	}
	n = pread(fd, hdr, 256, 0);
	if (n < 0) {
		close(fd);
		return bad_input(prog, strerror(errno), 1);
	}
	*hlen = (size_t)n;
	*fdp = fd;
	return 0;
}

/*
 * Make the host's view of this process (/proc/PID/comm and cmdline, as ps, pgrep and top show
 * them) the guest's: comm is the basename of the file run (Linux __set_task_comm on exec), and
 * the guest's argv is written over ours in place (the kernel reads cmdline from that memory).
 */
static void set_process_names(int argc, char **argv, int gargc, char **gargv, const char *file)
{
	const char *slash = strrchr(file, '/');
	char *start = program_invocation_name, *end, *p;

	prctl(PR_SET_NAME, slash ? slash + 1 : file, 0, 0, 0);
	if (argc < 1 || !start || start > argv[0])
		return;
	end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	if (end <= start || end - start > (1 << 20))
		return;
	{
		size_t len = (size_t)(end - start), at = 0;
		char *copy = calloc(1, len);
		if (!copy)
			return;
		for (int i = 0; i < gargc && at < len; i++) {
			size_t n = strlen(gargv[i]) + 1;
			if (n > len - at)
				n = len - at;
			memcpy(copy + at, gargv[i], n);
			at += n;
		}
		copy[len - 1] = 0;
		p = start;
		memcpy(p, copy, len);
		free(copy);
	}
}

int user_exec_main(int argc, char **argv)
{
	struct env env = { 0 };
	const char *argv0 = NULL;
	char path[PATH_MAX], interp_path[PATH_MAX], err[PATH_MAX + 300];
	char sb_interp[PATH_MAX], sb_arg[256], execfn[PATH_MAX];
	char **gargv = NULL;
	char *owned[3 * MAX_SHEBANG_DEPTH]; /* strings of #! lines in gargv */
	int nr_owned = 0;
	int gargc, i, fd = -1, ifd = -1, r, ret = 1;
	unsigned char hdr[256];
	size_t hlen;
	struct elf_image exe, interp;
	struct guest_mem *mem = NULL;
	uint64_t window;
	struct user_thread *t;
	struct stack_args sa;
	int64_t rsp;
	uint64_t stack_size;
	struct rlimit rl;
	bool clear_env = false;

	/* options: everything before PROGRAM */
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--trace") || !strncmp(a, "--trace=", 8)) {
			const char *list = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
			if (!list || trace_parse(list) < 0) {
				fprintf(stderr, "omnivisor: --trace: expected a list of cpu, syscall, "
						"exec, signal\n");
				return 2;
			}
		} else if (!strcmp(a, "-E") || !strcmp(a, "-U") || !strcmp(a, "--argv0")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "omnivisor: %s needs an argument\n", a);
				return 2;
			}
			i++;
			if (a[1] == 'E') {
				if (!strchr(argv[i], '=')) {
					fprintf(stderr, "omnivisor: -E expects VAR=VALUE\n");
					return 2;
				}
			}
		} else if (!strcmp(a, "-i")) {
			clear_env = true;
		} else {
			fprintf(stderr, "omnivisor: exec: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	/* environment: ours (unless -i), then -E/-U in order */
	if (!clear_env)
		for (char **e = environ; *e; e++) {
			/* a guest's LD_* that an execve carried past our own loader (thread.c) */
			char *v = *e;
			if (!strncmp(v, USER_ENV_PREFIX, strlen(USER_ENV_PREFIX)) &&
			    strchr(v, '='))
				v += strlen(USER_ENV_PREFIX);
			if (env_set(&env, v) < 0)
				goto oom;
		}
	for (int k = 0; k < i; k++) {
		if (!strcmp(argv[k], "--"))
			break;
		if (!strcmp(argv[k], "--trace") || !strcmp(argv[k], "--argv0")) {
			if (argv[k][2] == 'a')
				argv0 = argv[k + 1];
			k++;
		} else if (!strcmp(argv[k], "-E")) {
			if (env_set(&env, argv[++k]) < 0)
				goto oom;
		} else if (!strcmp(argv[k], "-U")) {
			env_unset(&env, argv[++k]);
		}
	}
	if (!env.v) {
		env.v = calloc(1, sizeof(char *));
		if (!env.v)
			goto oom;
		env.cap = 1;
	}

	gargc = argc - i;
	gargv = calloc((size_t)gargc + 2 * MAX_SHEBANG_DEPTH + 1, sizeof(char *));
	if (!gargv)
		goto oom;
	for (int k = 0; k < gargc; k++)
		gargv[k] = argv[i + k];

	r = find_program(gargv[0], &env, path, sizeof(path));
	if (r < 0) {
		ret = bad_input(gargv[0], strerror(-r), r == -ENOENT ? 127 : 1);
		goto out;
	}
	if (argv0)
		gargv[0] = (char *)argv0;

	r = open_program(path, path, &fd, hdr, &hlen);
	if (r) {
		ret = r;
		goto out;
	}
	snprintf(execfn, sizeof(execfn), "%s", path);
	/* #! scripts: argv becomes interp [arg] script args... (fs/binfmt_script.c) */
	for (int depth = 0; elf_check(hdr, hlen) == 2; depth++) {
		char *script;
		int extra;
		close(fd);
		fd = -1;
		if (depth >= MAX_SHEBANG_DEPTH) {
			ret = bad_input(path, "too many levels of #! interpreters", 1);
			goto out;
		}
		if (parse_shebang((char *)hdr, hlen, sb_interp, sizeof(sb_interp), sb_arg,
				  sizeof(sb_arg)) < 0) {
			ret = bad_input(path, "bad #! line", 1);
			goto out;
		}
		extra = sb_arg[0] ? 2 : 1;
		script = owned[nr_owned++] = strdup(path);
		if (!script || !(owned[nr_owned++] = strdup(sb_interp)) ||
		    (sb_arg[0] && !(owned[nr_owned++] = strdup(sb_arg))))
			goto oom;
		memmove(&gargv[extra + 1], &gargv[1], (size_t)gargc * sizeof(char *));
		gargv[0] = owned[nr_owned - extra];
		if (sb_arg[0])
			gargv[1] = owned[nr_owned - 1];
		gargv[extra] = script;
		gargc += extra;
		snprintf(path, sizeof(path), "%s", sb_interp);
		r = open_program(path, path, &fd, hdr, &hlen);
		if (r) {
			ret = r;
			goto out;
		}
	}

	if (readlink("/proc/self/exe", user_self_exe, sizeof(user_self_exe) - 1) < 0)
		snprintf(user_self_exe, sizeof(user_self_exe), "/proc/self/exe");
	if (!realpath(path, user_proc.exe_path))
		snprintf(user_proc.exe_path, sizeof(user_proc.exe_path), "%s", path);

	for (window = GUEST_WINDOW; window >= GUEST_WINDOW_MIN; window >>= 2)
		if ((mem = mem_create(window)))
			break;
	if (!mem) {
		ret = bad_input(path, "cannot reserve the guest address space", 1);
		goto out;
	}
	r = elf_load(mem, fd, (window / 3 * 2) & GUEST_PAGE_MASK, &exe, err, sizeof(err));
	close(fd);
	fd = -1;
	if (r < 0) {
		ret = bad_input(path, err, 1);
		goto out;
	}
	memset(&interp, 0, sizeof(interp));
	if (exe.interp[0]) {
		snprintf(interp_path, sizeof(interp_path), "%s", exe.interp);
		ifd = open(interp_path, O_RDONLY | O_CLOEXEC);
		if (ifd < 0) {
			snprintf(err, sizeof(err), "cannot open ELF interpreter %s: %s", interp_path,
				 strerror(errno));
			ret = bad_input(path, err, 1);
			goto out;
		}
		r = elf_load(mem, ifd, 0, &interp, err, sizeof(err));
		close(ifd);
		if (r < 0) {
			char msg[2 * PATH_MAX + 400];
			snprintf(msg, sizeof(msg), "ELF interpreter %s: %s", interp_path, err);
			ret = bad_input(path, msg, 1);
			goto out;
		}
		if (interp.interp[0]) {
			ret = bad_input(path, "the ELF interpreter has an interpreter itself", 1);
			goto out;
		}
	}
	mem_set_brk_base(mem, exe.end);

	stack_size = 8ULL << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > stack_size)
		stack_size = rl.rlim_cur < (128ULL << 20) ? (rl.rlim_cur & GUEST_PAGE_MASK)
							 : (128ULL << 20);
	sa.argc = gargc;
	sa.argv = gargv;
	sa.envp = env.v;
	sa.execfn = execfn; /* AT_EXECFN: the file execve'd, a script rather than its interpreter */
	sa.exe = &exe;
	sa.interp_base = exe.interp[0] ? interp.start : 0;
	rsp = stack_setup(mem, window - STACK_GAP, stack_size, &sa);
	if (rsp < 0) {
		ret = bad_input(path, rsp == -E2BIG ? "argument list too long"
						    : "cannot map the stack", 1);
		goto out;
	}

	if (trace_on(TRACE_EXEC)) {
		pr_err("exec %s: %s, bias %#llx, entry %#llx, brk %#llx", path,
		       exe.bias ? "PIE" : "ET_EXEC", (unsigned long long)exe.bias,
		       (unsigned long long)exe.entry, (unsigned long long)exe.end);
		if (exe.interp[0])
			pr_err("interpreter %s at %#llx, entry %#llx", exe.interp,
			       (unsigned long long)interp.start, (unsigned long long)interp.entry);
		pr_err("stack %#llx, argc %d", (unsigned long long)rsp, gargc);
	}

	/* the process and its first thread */
	pthread_mutex_init(&user_proc.lock, NULL);
	user_proc.mem = mem;
	user_proc.cache = block_cache_create(mem);
	if (!user_proc.cache) {
		ret = bad_input(path, "out of memory", 1);
		goto out;
	}
	user_proc.nr_threads = 1;
	if (posix_memalign((void **)&t, 64, sizeof(*t))) {
		ret = bad_input(path, "out of memory", 1);
		goto out;
	}
	memset(t, 0, sizeof(*t));
	vcpu_init(&t->cpu, mem, user_proc.cache);
	t->cpu.opaque = t;
	t->proc = &user_proc;
	t->tid = (int)host_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	t->altstack.ss_flags = SS_DISABLE;
	t->cpu.rip = exe.interp[0] ? interp.entry : exe.entry;
	t->cpu.gpr[R_RSP] = (uint64_t)rsp;
	set_process_names(argc, argv, gargc, gargv, execfn);
	current_uthread = t;
	mem_install_fault_handler();
	signal_wrap_fault_handler();
	signal_init(&user_proc, t);
	thread_run(t);

oom:
	fprintf(stderr, "omnivisor: out of memory\n");
	ret = 1;
out:
	/* every error before the guest runs: free what was allocated (LeakSanitizer); the
	 * decode cache (only after out of memory) has no destructor and stays */
	if (mem)
		mem_destroy(mem);
	user_proc.mem = NULL;
	if (fd >= 0)
		close(fd);
	while (nr_owned > 0)
		free(owned[--nr_owned]);
	free(gargv);
	free(env.v);
	return ret;
}
