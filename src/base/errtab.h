/* errno names and texts, and signal abbreviations, as glibc 2.36 gives them
 * (strerrorname_np, strerrordesc_np, sigabbrev_np), written out: those
 * functions are glibc's alone, and the library must load under any libc
 * with the same log lines. Linux numbers, the same on x86-64 and i386;
 * test_errname compares this table with glibc's. X(number, name, text) for
 * each errno Linux numbers (41 and 58 are none). */
#define LR_ERRNOS(X)                                                       \
	X(1, EPERM, "Operation not permitted")                             \
	X(2, ENOENT, "No such file or directory")                          \
	X(3, ESRCH, "No such process")                                     \
	X(4, EINTR, "Interrupted system call")                             \
	X(5, EIO, "Input/output error")                                    \
	X(6, ENXIO, "No such device or address")                           \
	X(7, E2BIG, "Argument list too long")                              \
	X(8, ENOEXEC, "Exec format error")                                 \
	X(9, EBADF, "Bad file descriptor")                                 \
	X(10, ECHILD, "No child processes")                                \
	X(11, EAGAIN, "Resource temporarily unavailable")                  \
	X(12, ENOMEM, "Cannot allocate memory")                            \
	X(13, EACCES, "Permission denied")                                 \
	X(14, EFAULT, "Bad address")                                       \
	X(15, ENOTBLK, "Block device required")                            \
	X(16, EBUSY, "Device or resource busy")                            \
	X(17, EEXIST, "File exists")                                       \
	X(18, EXDEV, "Invalid cross-device link")                          \
	X(19, ENODEV, "No such device")                                    \
	X(20, ENOTDIR, "Not a directory")                                  \
	X(21, EISDIR, "Is a directory")                                    \
	X(22, EINVAL, "Invalid argument")                                  \
	X(23, ENFILE, "Too many open files in system")                     \
	X(24, EMFILE, "Too many open files")                               \
	X(25, ENOTTY, "Inappropriate ioctl for device")                    \
	X(26, ETXTBSY, "Text file busy")                                   \
	X(27, EFBIG, "File too large")                                     \
	X(28, ENOSPC, "No space left on device")                           \
	X(29, ESPIPE, "Illegal seek")                                      \
	X(30, EROFS, "Read-only file system")                              \
	X(31, EMLINK, "Too many links")                                    \
	X(32, EPIPE, "Broken pipe")                                        \
	X(33, EDOM, "Numerical argument out of domain")                    \
	X(34, ERANGE, "Numerical result out of range")                     \
	X(35, EDEADLK, "Resource deadlock avoided")                        \
	X(36, ENAMETOOLONG, "File name too long")                          \
	X(37, ENOLCK, "No locks available")                                \
	X(38, ENOSYS, "Function not implemented")                          \
	X(39, ENOTEMPTY, "Directory not empty")                            \
	X(40, ELOOP, "Too many levels of symbolic links")                  \
	X(42, ENOMSG, "No message of desired type")                        \
	X(43, EIDRM, "Identifier removed")                                 \
	X(44, ECHRNG, "Channel number out of range")                       \
	X(45, EL2NSYNC, "Level 2 not synchronized")                        \
	X(46, EL3HLT, "Level 3 halted")                                    \
	X(47, EL3RST, "Level 3 reset")                                     \
	X(48, ELNRNG, "Link number out of range")                          \
	X(49, EUNATCH, "Protocol driver not attached")                     \
	X(50, ENOCSI, "No CSI structure available")                        \
	X(51, EL2HLT, "Level 2 halted")                                    \
	X(52, EBADE, "Invalid exchange")                                   \
	X(53, EBADR, "Invalid request descriptor")                         \
	X(54, EXFULL, "Exchange full")                                     \
	X(55, ENOANO, "No anode")                                          \
	X(56, EBADRQC, "Invalid request code")                             \
	X(57, EBADSLT, "Invalid slot")                                     \
	X(59, EBFONT, "Bad font file format")                              \
	X(60, ENOSTR, "Device not a stream")                               \
	X(61, ENODATA, "No data available")                                \
	X(62, ETIME, "Timer expired")                                      \
	X(63, ENOSR, "Out of streams resources")                           \
	X(64, ENONET, "Machine is not on the network")                     \
	X(65, ENOPKG, "Package not installed")                             \
	X(66, EREMOTE, "Object is remote")                                 \
	X(67, ENOLINK, "Link has been severed")                            \
	X(68, EADV, "Advertise error")                                     \
	X(69, ESRMNT, "Srmount error")                                     \
	X(70, ECOMM, "Communication error on send")                        \
	X(71, EPROTO, "Protocol error")                                    \
	X(72, EMULTIHOP, "Multihop attempted")                             \
	X(73, EDOTDOT, "RFS specific error")                               \
	X(74, EBADMSG, "Bad message")                                      \
	X(75, EOVERFLOW, "Value too large for defined data type")          \
	X(76, ENOTUNIQ, "Name not unique on network")                      \
	X(77, EBADFD, "File descriptor in bad state")                      \
	X(78, EREMCHG, "Remote address changed")                           \
	X(79, ELIBACC, "Can not access a needed shared library")           \
	X(80, ELIBBAD, "Accessing a corrupted shared library")             \
	X(81, ELIBSCN, ".lib section in a.out corrupted")                  \
	X(82, ELIBMAX, "Attempting to link in too many shared libraries")  \
	X(83, ELIBEXEC, "Cannot exec a shared library directly")           \
	X(84, EILSEQ, "Invalid or incomplete multibyte or wide character") \
	X(85, ERESTART, "Interrupted system call should be restarted")     \
	X(86, ESTRPIPE, "Streams pipe error")                              \
	X(87, EUSERS, "Too many users")                                    \
	X(88, ENOTSOCK, "Socket operation on non-socket")                  \
	X(89, EDESTADDRREQ, "Destination address required")                \
	X(90, EMSGSIZE, "Message too long")                                \
	X(91, EPROTOTYPE, "Protocol wrong type for socket")                \
	X(92, ENOPROTOOPT, "Protocol not available")                       \
	X(93, EPROTONOSUPPORT, "Protocol not supported")                   \
	X(94, ESOCKTNOSUPPORT, "Socket type not supported")                \
	X(95, EOPNOTSUPP, "Operation not supported")                       \
	X(96, EPFNOSUPPORT, "Protocol family not supported")               \
	X(97, EAFNOSUPPORT, "Address family not supported by protocol")    \
	X(98, EADDRINUSE, "Address already in use")                        \
	X(99, EADDRNOTAVAIL, "Cannot assign requested address")            \
	X(100, ENETDOWN, "Network is down")                                \
	X(101, ENETUNREACH, "Network is unreachable")                      \
	X(102, ENETRESET, "Network dropped connection on reset")           \
	X(103, ECONNABORTED, "Software caused connection abort")           \
	X(104, ECONNRESET, "Connection reset by peer")                     \
	X(105, ENOBUFS, "No buffer space available")                       \
	X(106, EISCONN, "Transport endpoint is already connected")         \
	X(107, ENOTCONN, "Transport endpoint is not connected")            \
	X(108, ESHUTDOWN, "Cannot send after transport endpoint shutdown") \
	X(109, ETOOMANYREFS, "Too many references: cannot splice")         \
	X(110, ETIMEDOUT, "Connection timed out")                          \
	X(111, ECONNREFUSED, "Connection refused")                         \
	X(112, EHOSTDOWN, "Host is down")                                  \
	X(113, EHOSTUNREACH, "No route to host")                           \
	X(114, EALREADY, "Operation already in progress")                  \
	X(115, EINPROGRESS, "Operation now in progress")                   \
	X(116, ESTALE, "Stale file handle")                                \
	X(117, EUCLEAN, "Structure needs cleaning")                        \
	X(118, ENOTNAM, "Not a XENIX named type file")                     \
	X(119, ENAVAIL, "No XENIX semaphores available")                   \
	X(120, EISNAM, "Is a named type file")                             \
	X(121, EREMOTEIO, "Remote I/O error")                              \
	X(122, EDQUOT, "Disk quota exceeded")                              \
	X(123, ENOMEDIUM, "No medium found")                               \
	X(124, EMEDIUMTYPE, "Wrong medium type")                           \
	X(125, ECANCELED, "Operation canceled")                            \
	X(126, ENOKEY, "Required key not available")                       \
	X(127, EKEYEXPIRED, "Key has expired")                             \
	X(128, EKEYREVOKED, "Key has been revoked")                        \
	X(129, EKEYREJECTED, "Key was rejected by service")                \
	X(130, EOWNERDEAD, "Owner died")                                   \
	X(131, ENOTRECOVERABLE, "State not recoverable")                   \
	X(132, ERFKILL, "Operation not possible due to RF-kill")           \
	X(133, EHWPOISON, "Memory page has hardware error")

static const char *const lr_sigtab[] = {
	[1] = "HUP",
	[2] = "INT",
	[3] = "QUIT",
	[4] = "ILL",
	[5] = "TRAP",
	[6] = "ABRT",
	[7] = "BUS",
	[8] = "FPE",
	[9] = "KILL",
	[10] = "USR1",
	[11] = "SEGV",
	[12] = "USR2",
	[13] = "PIPE",
	[14] = "ALRM",
	[15] = "TERM",
	[16] = "STKFLT",
	[17] = "CHLD",
	[18] = "CONT",
	[19] = "STOP",
	[20] = "TSTP",
	[21] = "TTIN",
	[22] = "TTOU",
	[23] = "URG",
	[24] = "XCPU",
	[25] = "XFSZ",
	[26] = "VTALRM",
	[27] = "PROF",
	[28] = "WINCH",
	[29] = "POLL",
	[30] = "PWR",
	[31] = "SYS",
};
