# The check of a packed batch's offsets, for every kernel that indexes with them.
cdef int check_offsets(const Py_ssize_t[::1] offsets, Py_ssize_t n_rows,
                       str rows_of) except -1
