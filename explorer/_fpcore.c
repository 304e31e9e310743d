/* Structural 64-bit fingerprints of spec states, in C (the hot path of every search).
 *
 * The algorithm is defined in explorer/fingerprint.py (the pure-Python reference, which gives
 * identical values); this file is the same computation without the interpreter's overhead.
 * Keep the two in step: tests/explorer/test_fingerprint.py compares them on random values.
 *
 * Contract: fingerprint(value) -> int (signed 64-bit, never 0). Values are walked structurally:
 * None, bool, int (any size), float, str, bytes, tuple, frozenset, and -- classified once per
 * type by the Python helper handed to init() -- Enum members, NamedTuples / tuple subclasses,
 * frozenset subclasses and frozen dataclasses, each tagged by its type. Anything else raises
 * TypeError (the Python side then finds the path inside the state and says what it is).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;

#define K_MIX1 0xbf58476d1ce4e5b9ULL
#define K_MIX2 0x94d049bb133111ebULL
#define K_SET 0x9e3779b97f4a7c15ULL
#define K_P1 0x9e3779b185ebca87ULL
#define K_P2 0xc2b2ae3d27d4eb4fULL

/* Tags of the built-in kinds (the Python reference uses the same numbers). */
#define T_NONE 1
#define T_FALSE 2
#define T_TRUE 3
#define T_INT 4
#define T_BIGINT 5
#define T_FLOAT 6
#define T_STR 7
#define T_BYTES 8
#define T_TUPLE 9
#define T_FROZENSET 10
#define T_TYPE 11
#define T_ENUM 12
#define T_RECORD 13

/* Kinds a Python type can be classified as (by the classifier callback). */
#define K_UNSUPPORTED 0
#define K_ENUM 1
#define K_TUPLE 2
#define K_FROZENSET 3
#define K_DATACLASS 4

static inline u64 mix64(u64 x) {
    x ^= x >> 30;
    x *= K_MIX1;
    x ^= x >> 27;
    x *= K_MIX2;
    x ^= x >> 31;
    return x;
}

/* The start of a composite value: its kind (or type tag) and length, mixed. */
static inline u64 start(u64 tag, u64 n) { return mix64(tag * K_P2 + n); }

/* Fold one part into a composite: a bijection in the part for a fixed h and in h for a fixed
 * part; parts are themselves mixed values, so one multiply per part is enough. */
static inline u64 fold(u64 h, u64 part) {
    h ^= part;
    h = (h << 31) | (h >> 33);
    return h * K_P1;
}

static inline u64 leaf(u64 tag, u64 v) { return mix64(v + tag * K_P2); }

static u64 hash_bytes(u64 tag, const unsigned char *p, Py_ssize_t n) {
    u64 h = start(tag, (u64)n);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        u64 w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | p[i + k];
        h = fold(h, mix64(w));
    }
    if (i < n) {
        u64 w = 0;
        for (Py_ssize_t k = n - 1; k >= i; k--) w = (w << 8) | p[k];
        h = fold(h, mix64(w));
    }
    return mix64(h);
}

/* A pointer-keyed table (type -> classification, enum member -> fingerprint). Keys are kept
 * alive by a reference, so an address is never reused while it is in the table. */
typedef struct {
    PyObject *key;
    u64 fp;
    int kind;
    PyObject *fields; /* dataclass: tuple of field names */
} Entry;

typedef struct {
    Entry *slots;
    size_t cap;
    size_t used;
} Table;

static Table types_tab, members_tab;
static PyObject *classifier; /* classify(type) -> (kind, tag_fp, fields or None) */

static Entry *tab_find(Table *t, PyObject *key) {
    if (t->cap == 0) return NULL;
    size_t mask = t->cap - 1;
    size_t i = (size_t)(mix64((u64)(uintptr_t)key)) & mask;
    while (t->slots[i].key != NULL) {
        if (t->slots[i].key == key) return &t->slots[i];
        i = (i + 1) & mask;
    }
    return NULL;
}

static Entry *tab_insert(Table *t, PyObject *key) {
    if ((t->used + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        Entry *ns = (Entry *)PyMem_Calloc(ncap, sizeof(Entry));
        if (!ns) { PyErr_NoMemory(); return NULL; }
        for (size_t j = 0; j < t->cap; j++) {
            if (t->slots[j].key) {
                size_t i = (size_t)(mix64((u64)(uintptr_t)t->slots[j].key)) & (ncap - 1);
                while (ns[i].key) i = (i + 1) & (ncap - 1);
                ns[i] = t->slots[j];
            }
        }
        PyMem_Free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    size_t mask = t->cap - 1;
    size_t i = (size_t)(mix64((u64)(uintptr_t)key)) & mask;
    while (t->slots[i].key != NULL) i = (i + 1) & mask;
    Py_INCREF(key);
    t->slots[i].key = key;
    t->used++;
    return &t->slots[i];
}

static int fp_value(PyObject *o, u64 *out);

/* A direct-mapped memo of recently fingerprinted containers (tuples, NamedTuples, frozensets),
 * keyed by address. The successors of one state share most of its parts (an unchanged message
 * set, the same tuple of process states), so most parts are found here instead of walked
 * again. An entry holds a reference, so its address cannot be reused by another object while
 * it is cached; tuples and frozensets of supported (immutable) values never change. */
#define MEMO_BITS 10
typedef struct {
    PyObject *key;
    u64 fp;
} Memo;
static Memo memo[1 << MEMO_BITS];

static inline Memo *memo_slot(PyObject *o) {
    uintptr_t p = (uintptr_t)o;
    return &memo[((p >> 4) ^ (p >> (4 + MEMO_BITS))) & ((1 << MEMO_BITS) - 1)];
}

/* Remembering a value only its container refers to is wasted: it can be met again only
 * through that container (a fresh successor's new parts). Remembering it would also keep it
 * alive past its state, to be freed later, cold, on eviction. */
#define MEMO_WORTH(o) (Py_REFCNT(o) > 1)

static inline void memo_put(Memo *m, PyObject *o, u64 fp) {
    PyObject *old = m->key;
    Py_INCREF(o);
    m->key = o;
    m->fp = fp;
    Py_XDECREF(old);
}

static Entry *classify(PyTypeObject *tp) {
    Entry *e = tab_find(&types_tab, (PyObject *)tp);
    if (e) return e;
    if (!classifier) {
        PyErr_SetString(PyExc_RuntimeError, "protospec _fpcore: init() was not called");
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(classifier, (PyObject *)tp);
    if (!r) return NULL;
    long kind;
    unsigned long long tag;
    PyObject *fields;
    if (!PyArg_ParseTuple(r, "lKO", &kind, &tag, &fields)) { Py_DECREF(r); return NULL; }
    e = tab_insert(&types_tab, (PyObject *)tp);
    if (!e) { Py_DECREF(r); return NULL; }
    e->kind = (int)kind;
    e->fp = (u64)tag;
    if (fields != Py_None) { Py_INCREF(fields); e->fields = fields; }
    Py_DECREF(r);
    return e;
}

static int unsupported(PyObject *o) {
    PyErr_Format(PyExc_TypeError, "protospec cannot fingerprint a value of type %.200s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int fp_str(PyObject *o, u64 *out) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p) { *out = hash_bytes(T_STR, (const unsigned char *)p, n); return 0; }
    PyErr_Clear(); /* lone surrogates: encode them as the Python reference does */
    PyObject *b = PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass");
    if (!b) return -1;
    *out = hash_bytes(T_STR, (const unsigned char *)PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return 0;
}

static int fp_int(PyObject *o, u64 *out) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (!overflow) {
        if (v == -1 && PyErr_Occurred()) return -1;
        *out = leaf(T_INT, (u64)v);
        return 0;
    }
    /* Beyond 64 bits: the two's-complement bytes, little-endian, shortest that hold it. */
    size_t nbits = _PyLong_NumBits(o);
    if (nbits == (size_t)-1 && PyErr_Occurred()) return -1;
    Py_ssize_t nbytes = (Py_ssize_t)(nbits / 8 + 1);
    unsigned char *buf = (unsigned char *)PyMem_Malloc(nbytes);
    if (!buf) { PyErr_NoMemory(); return -1; }
#if PY_VERSION_HEX >= 0x030D0000
    if (_PyLong_AsByteArray((PyLongObject *)o, buf, nbytes, 1, 1, 1) < 0) {
#else
    if (_PyLong_AsByteArray((PyLongObject *)o, buf, nbytes, 1, 1) < 0) {
#endif
        PyMem_Free(buf);
        return -1;
    }
    *out = hash_bytes(T_BIGINT, buf, nbytes);
    PyMem_Free(buf);
    return 0;
}

static int fp_seq(u64 tag, PyObject *const *items, Py_ssize_t n, u64 *out) {
    u64 h = start(tag, (u64)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        u64 c;
        if (fp_value(items[i], &c) < 0) return -1;
        h = fold(h, c);
    }
    *out = mix64(h);
    return 0;
}

static int fp_set(u64 tag, PyObject *o, u64 *out) {
    /* Order-independent: a wrapping sum of each element's fingerprint, mixed once more. */
    u64 acc = 0;
#if PY_VERSION_HEX < 0x030D0000
    Py_ssize_t pos = 0;
    PyObject *key;
    Py_hash_t hash;
    while (_PySet_NextEntry(o, &pos, &key, &hash)) {
        u64 c;
        if (fp_value(key, &c) < 0) return -1;
        acc += mix64(c ^ K_SET);
    }
#else
    PyObject *it = PyObject_GetIter(o), *key;
    if (!it) return -1;
    while ((key = PyIter_Next(it))) {
        u64 c;
        int r = fp_value(key, &c);
        Py_DECREF(key);
        if (r < 0) { Py_DECREF(it); return -1; }
        acc += mix64(c ^ K_SET);
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return -1;
#endif
    *out = mix64(fold(start(tag, (u64)PySet_GET_SIZE(o)), acc));
    return 0;
}

static int fp_value(PyObject *o, u64 *out) {
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyLong_Type) return fp_int(o, out);
    if (tp == &PyUnicode_Type) return fp_str(o, out);
    if (tp == &PyTuple_Type) {
        Memo *m = memo_slot(o);
        if (m->key == o) { *out = m->fp; return 0; }
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        int r = fp_seq(T_TUPLE, &PyTuple_GET_ITEM(o, 0), PyTuple_GET_SIZE(o), out);
        Py_LeaveRecursiveCall();
        if (r == 0 && MEMO_WORTH(o)) memo_put(m, o, *out);
        return r;
    }
    if (o == Py_None) { *out = leaf(T_NONE, 0); return 0; }
    if (o == Py_True) { *out = leaf(T_TRUE, 0); return 0; }
    if (o == Py_False) { *out = leaf(T_FALSE, 0); return 0; }
    if (tp == &PyFrozenSet_Type) {
        Memo *m = memo_slot(o);
        if (m->key == o) { *out = m->fp; return 0; }
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        int r = fp_set(T_FROZENSET, o, out);
        Py_LeaveRecursiveCall();
        if (r == 0 && MEMO_WORTH(o)) memo_put(m, o, *out);
        return r;
    }
    if (tp == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(o);
        if (d == 0.0) d = 0.0; /* -0.0 == 0.0: one fingerprint */
        u64 bits;
        memcpy(&bits, &d, 8);
        *out = leaf(T_FLOAT, bits);
        return 0;
    }
    if (tp == &PyBytes_Type) {
        *out = hash_bytes(T_BYTES, (const unsigned char *)PyBytes_AS_STRING(o),
                          PyBytes_GET_SIZE(o));
        return 0;
    }
    Memo *mo = memo_slot(o); /* enum members and NamedTuples: seen recently? */
    if (mo->key == o) { *out = mo->fp; return 0; }
    Entry *e = classify(tp);
    if (!e) return -1;
    switch (e->kind) {
    case K_ENUM: {
        Entry *m = tab_find(&members_tab, o);
        if (m) { memo_put(mo, o, m->fp); *out = m->fp; return 0; }
        PyObject *name = PyObject_GetAttrString(o, "_name_");
        if (!name) return -1;
        u64 nh;
        if (!PyUnicode_Check(name)) { Py_DECREF(name); return unsupported(o); }
        int r = fp_str(name, &nh);
        Py_DECREF(name);
        if (r < 0) return -1;
        u64 fp = mix64(fold(start(T_ENUM, e->fp), nh));
        m = tab_insert(&members_tab, o);
        if (!m) return -1;
        m->fp = fp;
        *out = fp;
        return 0;
    }
    case K_TUPLE: {
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        u64 h;
        int r = fp_seq(e->fp, &PyTuple_GET_ITEM(o, 0), PyTuple_GET_SIZE(o), &h);
        Py_LeaveRecursiveCall();
        if (r < 0) return -1;
        *out = h;
        if (MEMO_WORTH(o)) memo_put(mo, o, *out);
        return 0;
    }
    case K_FROZENSET: {
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        u64 h;
        int r = fp_set(e->fp, o, &h);
        Py_LeaveRecursiveCall();
        if (r < 0) return -1;
        *out = h;
        if (MEMO_WORTH(o)) memo_put(mo, o, *out);
        return 0;
    }
    case K_DATACLASS: {
        PyObject *fields = e->fields;
        Py_ssize_t n = PyTuple_GET_SIZE(fields);
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        u64 h = start(e->fp, (u64)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = PyObject_GetAttr(o, PyTuple_GET_ITEM(fields, i));
            if (!v) { Py_LeaveRecursiveCall(); return -1; }
            u64 c;
            int r = fp_value(v, &c);
            Py_DECREF(v);
            if (r < 0) { Py_LeaveRecursiveCall(); return -1; }
            h = fold(h, c);
        }
        Py_LeaveRecursiveCall();
        *out = mix64(h);
        return 0;
    }
    default:
        return unsupported(o);
    }
}

/* -- a fingerprint set shared by worker processes (parallel search, explorer/parallel_shared.py)
 * An open-addressing table of uint64 fingerprints (0 = empty slot; a fingerprint is never 0)
 * in a buffer that every worker maps (a shared file mapping). A worker inserts with an atomic
 * compare-and-swap, so exactly one of the workers that generate a state wins its insert and
 * owns it: no state has to travel to an owner. The slot is the fingerprint times the golden
 * ratio's top bits (Fibonacci hashing), then linear probing. */
static PyObject *py_table_insert(PyObject *self, PyObject *args) {
    Py_buffer table, keys, out;
    if (!PyArg_ParseTuple(args, "w*y*w*", &table, &keys, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t cap = table.len / 8, n = keys.len / 8;
    if (cap < 16 || (cap & (cap - 1)) != 0 || table.len % 8 != 0 || keys.len % 8 != 0
            || out.len < n) {
        PyErr_SetString(PyExc_ValueError, "table_insert: the table must hold a power of two "
                        "(>= 16) of uint64 slots, keys int64 and out one byte per key");
        goto done;
    }
    u64 *slots = (u64 *)table.buf;
    const u64 *k = (const u64 *)keys.buf;
    unsigned char *o = (unsigned char *)out.buf;
    int bits = 0;
    while (((Py_ssize_t)1 << bits) < cap) bits++;
    u64 mask = (u64)cap - 1;
    Py_ssize_t added = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        u64 key = k[i];
        if (key == 0) {
            PyErr_SetString(PyExc_ValueError, "table_insert: 0 is not a fingerprint");
            goto done;
        }
        u64 slot = (key * 0x9E3779B97F4A7C15ULL) >> (64 - bits);
        Py_ssize_t probes = 0;
        for (;;) {
            u64 cur = __atomic_load_n(&slots[slot], __ATOMIC_ACQUIRE);
            if (cur == 0) {
                u64 expected = 0;
                if (__atomic_compare_exchange_n(&slots[slot], &expected, key, 0,
                                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                    o[i] = 1;
                    added++;
                    break;
                }
                cur = expected; /* another worker filled the slot first */
            }
            if (cur == key) {
                o[i] = 0;
                break;
            }
            slot = (slot + 1) & mask;
            if (++probes >= cap) {
                result = PyLong_FromLong(-1); /* full: the caller grows the table first */
                goto done;
            }
        }
    }
    result = PyLong_FromSsize_t(added);
done:
    PyBuffer_Release(&table);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&out);
    return result;
}

static inline long long finish(u64 h) {
    if (h == 0) h = 0xc5b0f1e2d3a4b689ULL; /* 0 marks an empty slot in the stores */
    return (long long)h;
}

static PyObject *py_fingerprint(PyObject *self, PyObject *o) {
    u64 h;
    if (fp_value(o, &h) < 0) return NULL;
    return PyLong_FromLongLong(finish(h));
}

static PyObject *py_init(PyObject *self, PyObject *fn) {
    Py_XINCREF(fn);
    Py_XSETREF(classifier, fn);
    Py_RETURN_NONE;
}

/* Building blocks of the inlined expander (explorer/inline.py): a NamedTuple instance built
 * without its Python-level __new__, and TLA+'s [t EXCEPT ![i] = v] in one allocation. */
static PyObject *py_new_tuple(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || !PyType_Check(args[0])
            || !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "new_tuple(cls, *items): cls must be a tuple type");
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)args[0];
    Py_ssize_t n = nargs - 1;
    PyObject *t = tp->tp_alloc(tp, n);
    if (!t) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(args[i + 1]);
        PyTuple_SET_ITEM(t, i, args[i + 1]);
    }
    return t;
}

static PyObject *py_except_at(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "except_at(t, i, v) takes 3 arguments");
        return NULL;
    }
    PyObject *t = args[0], *i = args[1], *v = args[2];
    if (PyTuple_CheckExact(t) && PyLong_CheckExact(i)) {
        Py_ssize_t n = PyTuple_GET_SIZE(t);
        Py_ssize_t k = PyLong_AsSsize_t(i);
        if (k == -1 && PyErr_Occurred()) PyErr_Clear();
        else if (0 <= k && k < n) {
            PyObject *r = PyTuple_New(n);
            if (!r) return NULL;
            for (Py_ssize_t j = 0; j < n; j++) {
                PyObject *x = j == k ? v : PyTuple_GET_ITEM(t, j);
                Py_INCREF(x);
                PyTuple_SET_ITEM(r, j, x);
            }
            return r;
        }
    }
    /* Anything else: exactly t[:i] + (v,) + t[i + 1:], with its results and its errors. */
    PyObject *head = NULL, *one = NULL, *i1 = NULL, *tail = NULL, *hv = NULL, *r = NULL;
    PyObject *s1 = PySlice_New(NULL, i, NULL);
    if (!s1) goto done;
    head = PyObject_GetItem(t, s1);
    Py_DECREF(s1);
    if (!head) goto done;
    one = PyTuple_Pack(1, v);
    if (!one) goto done;
    hv = PyNumber_Add(head, one);
    if (!hv) goto done;
    PyObject *unit = PyLong_FromLong(1);
    if (!unit) goto done;
    i1 = PyNumber_Add(i, unit);
    Py_DECREF(unit);
    if (!i1) goto done;
    PyObject *s2 = PySlice_New(i1, NULL, NULL);
    if (!s2) goto done;
    tail = PyObject_GetItem(t, s2);
    Py_DECREF(s2);
    if (!tail) goto done;
    r = PyNumber_Add(hv, tail);
done:
    Py_XDECREF(head);
    Py_XDECREF(one);
    Py_XDECREF(hv);
    Py_XDECREF(i1);
    Py_XDECREF(tail);
    return r;
}

/* A waiting BFS level pickles its states a chunk at a time (explorer/frontier.py). Pickling a
 * NamedTuple calls its Python-level __getnewargs__, unpickling its Python-level __new__: for
 * a chunk of states of one class, rows(cls, states) gives their plain tuples (None if some
 * state is of another type) and of_rows(cls, rows) builds the states back. */
static PyObject *py_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "rows(cls, states: list)");
        return NULL;
    }
    PyObject *cls = args[0], *states = args[1];
    Py_ssize_t n = PyList_GET_SIZE(states);
    for (Py_ssize_t i = 0; i < n; i++)
        if ((PyObject *)Py_TYPE(PyList_GET_ITEM(states, i)) != cls) Py_RETURN_NONE;
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(states, i);
        PyObject *row = PyTuple_GetSlice(s, 0, PyTuple_GET_SIZE(s));
        if (!row) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, row);
    }
    return out;
}

static PyObject *py_of_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyType_Check(args[0])
            || !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type)
            || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "of_rows(cls: tuple type, rows: list)");
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)args[0];
    PyObject *rows = args[1];
    Py_ssize_t n = PyList_GET_SIZE(rows);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_CheckExact(row)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "of_rows: every row must be a tuple");
            return NULL;
        }
        Py_ssize_t k = PyTuple_GET_SIZE(row);
        PyObject *s = tp->tp_alloc(tp, k);
        if (!s) { Py_DECREF(out); return NULL; }
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *x = PyTuple_GET_ITEM(row, j);
            Py_INCREF(x);
            PyTuple_SET_ITEM(s, j, x);
        }
        PyList_SET_ITEM(out, i, s);
    }
    return out;
}

/* Emitter(states, fps, acts[, fp]): a callable ``emit(t, k)`` that appends t, its fingerprint
 * and k to the three lists -- what the generated expander would otherwise do in four calls
 * (three list appends and a fingerprint) for every successor. With ``fp`` (a symmetric
 * search's canonical fingerprint) that function gives the fingerprint instead.
 *
 * After ``watch(table, fps, fired)`` it first looks the fingerprint up in a StateStore's index
 * (explorer/store.py: int32 slots holding id + 1, Fibonacci hashing, linear probing; ``fps``
 * the stored fingerprints by id) and drops a successor that is already stored, counting it in
 * ``fired[k]`` instead, and likewise a successor kept already since the last ``watch`` (a
 * duplicate within the batch): most successors of a search are states seen before, and
 * dropping them here, while they are hot in the cache, spares the appends, the batch's numpy
 * work and the late deallocation. The caller re-watches whenever the store may have moved its arrays.
 * ``count`` is the number of calls (kept or dropped) and ``dropped`` those dropped. */
typedef struct {
    PyObject_HEAD
    PyObject *states, *fps, *acts;
    vectorcallfunc vectorcall;
    int watching;
    Py_buffer table, stored, fired;
    int bits;
    Py_ssize_t count, dropped;
    PyObject *fp_fn; /* fp(t) -> int instead of the structural fingerprint (symmetry), or NULL */
    /* canonical(keys, values, compute): fp(t) is compute(t, raw) remembered by t's structural
     * fingerprint raw in a direct-mapped cache (slot raw & (len - 1)), read and filled here */
    PyObject *compute;
    Py_buffer ckeys, cvalues;
    PyObject *steps; /* steps(list): every successor also goes there, dropped or not */
    /* fingerprints kept since the last watch(): a later successor with one of them is a
     * duplicate within the batch, dropped as well (the batch keeps the first occurrence) */
    u64 *seen;
    Py_ssize_t seen_used;
} Emitter;

#define SEEN_BITS 15
#define SEEN_CAP ((Py_ssize_t)1 << SEEN_BITS)

/* 1 if key was kept in this batch already; else remember it (while the table has room). */
static inline int emitter_seen(Emitter *e, u64 key) {
    u64 mask = (u64)SEEN_CAP - 1;
    u64 slot = (key * 0x9E3779B97F4A7C15ULL) >> (64 - SEEN_BITS);
    for (;;) {
        u64 cur = e->seen[slot];
        if (cur == key) return 1;
        if (cur == 0) break;
        slot = (slot + 1) & mask;
    }
    if (e->seen_used * 2 < SEEN_CAP) { /* past half full, stop remembering: still exact */
        e->seen[slot] = key;
        e->seen_used++;
    }
    return 0;
}

/* fp_value of a fresh successor, without remembering the successor itself (its parts still
 * are, where shared): each successor is a new object, met once. */
static int fp_successor(PyObject *o, u64 *out) {
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyTuple_Type || PyType_HasFeature(tp, Py_TPFLAGS_TUPLE_SUBCLASS)) {
        u64 tag = T_TUPLE;
        if (tp != &PyTuple_Type) {
            Entry *e = classify(tp);
            if (!e) return -1;
            if (e->kind != K_TUPLE) return fp_value(o, out);
            tag = e->fp;
        }
        if (Py_EnterRecursiveCall(" while fingerprinting a state")) return -1;
        int r = fp_seq(tag, &PyTuple_GET_ITEM(o, 0), PyTuple_GET_SIZE(o), out);
        Py_LeaveRecursiveCall();
        return r;
    }
    return fp_value(o, out);
}

static void emitter_unwatch(Emitter *e) {
    if (e->watching) {
        PyBuffer_Release(&e->table);
        PyBuffer_Release(&e->stored);
        PyBuffer_Release(&e->fired);
        e->watching = 0;
    }
}

/* 1 if ``key`` is in the watched store, 0 if not. */
static inline int emitter_known(Emitter *e, u64 key) {
    const int32_t *slots = (const int32_t *)e->table.buf;
    const int64_t *stored = (const int64_t *)e->stored.buf;
    Py_ssize_t n_stored = e->stored.len / 8;
    u64 mask = ((u64)1 << e->bits) - 1;
    u64 slot = (key * 0x9E3779B97F4A7C15ULL) >> (64 - e->bits);
    for (;;) {
        int32_t cur = slots[slot];
        if (cur == 0) return 0;
        if (cur <= n_stored && (u64)stored[cur - 1] == key) return 1;
        slot = (slot + 1) & mask;
    }
}

static PyObject *emitter_call(PyObject *self, PyObject *const *args, size_t nargsf,
                              PyObject *kwnames) {
    Emitter *e = (Emitter *)self;
    if (PyVectorcall_NARGS(nargsf) != 2 || kwnames) {
        PyErr_SetString(PyExc_TypeError, "emit(state, label) takes 2 positional arguments");
        return NULL;
    }
    long long fp;
    if (e->compute) {
        u64 h;
        if (fp_successor(args[0], &h) < 0) return NULL;
        long long raw = finish(h);
        int64_t *keys = (int64_t *)e->ckeys.buf, *values = (int64_t *)e->cvalues.buf;
        u64 slot = (u64)raw & (u64)(e->ckeys.len / 8 - 1);
        if (keys[slot] == raw) {
            fp = values[slot];
        } else {
            PyObject *rawobj = PyLong_FromLongLong(raw);
            if (!rawobj) return NULL;
            PyObject *cargs[2] = {args[0], rawobj};
            PyObject *r = PyObject_Vectorcall(e->compute, cargs, 2, NULL);
            Py_DECREF(rawobj);
            if (!r) return NULL;
            fp = PyLong_AsLongLong(r);
            Py_DECREF(r);
            if (fp == -1 && PyErr_Occurred()) return NULL;
            keys[slot] = raw;
            values[slot] = fp;
        }
    } else if (e->fp_fn) {
        PyObject *r = PyObject_CallOneArg(e->fp_fn, args[0]);
        if (!r) return NULL;
        fp = PyLong_AsLongLong(r);
        Py_DECREF(r);
        if (fp == -1 && PyErr_Occurred()) return NULL;
    } else {
        u64 h;
        if (fp_successor(args[0], &h) < 0) return NULL;
        fp = finish(h);
    }
    e->count++;
    if (e->steps && PyList_Append(e->steps, args[0]) < 0) return NULL;
    if (e->watching && (emitter_known(e, (u64)fp) || emitter_seen(e, (u64)fp))) {
        Py_ssize_t k = PyLong_AsSsize_t(args[1]);
        if (k < 0 || k >= e->fired.len / 8) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "emit: label out of range of fired");
            return NULL;
        }
        ((int64_t *)e->fired.buf)[k]++;
        e->dropped++;
        Py_RETURN_NONE;
    }
    PyObject *f = PyLong_FromLongLong(fp);
    if (!f) return NULL;
    int bad = PyList_Append(e->states, args[0]) < 0 || PyList_Append(e->fps, f) < 0
              || PyList_Append(e->acts, args[1]) < 0;
    Py_DECREF(f);
    if (bad) return NULL;
    Py_RETURN_NONE;
}

static PyObject *emitter_watch(PyObject *self, PyObject *args) {
    Emitter *e = (Emitter *)self;
    Py_buffer table, stored, fired;
    if (!PyArg_ParseTuple(args, "y*y*w*:watch", &table, &stored, &fired)) return NULL;
    Py_ssize_t cap = table.len / 4;
    if (cap < 16 || (cap & (cap - 1)) != 0 || table.len % 4 != 0 || stored.len % 8 != 0
            || fired.len % 8 != 0) {
        PyBuffer_Release(&table);
        PyBuffer_Release(&stored);
        PyBuffer_Release(&fired);
        PyErr_SetString(PyExc_ValueError, "watch(table, fps, fired): the table must hold a "
                        "power of two (>= 16) of int32 slots, fps and fired int64");
        return NULL;
    }
    if (!e->seen) {
        e->seen = (u64 *)PyMem_Calloc(SEEN_CAP, sizeof(u64));
        if (!e->seen) {
            PyBuffer_Release(&table);
            PyBuffer_Release(&stored);
            PyBuffer_Release(&fired);
            return PyErr_NoMemory();
        }
    } else if (e->seen_used) {
        memset(e->seen, 0, SEEN_CAP * sizeof(u64));
    }
    e->seen_used = 0;
    emitter_unwatch(e);
    e->table = table;
    e->stored = stored;
    e->fired = fired;
    e->bits = 0;
    while (((Py_ssize_t)1 << e->bits) < cap) e->bits++;
    e->watching = 1;
    Py_RETURN_NONE;
}

static PyObject *emitter_canonical(PyObject *self, PyObject *args) {
    Emitter *e = (Emitter *)self;
    Py_buffer keys, values;
    PyObject *compute;
    if (e->compute) {
        PyErr_SetString(PyExc_ValueError, "canonical(): already set");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "w*w*O:canonical", &keys, &values, &compute)) return NULL;
    Py_ssize_t n = keys.len / 8;
    if (n < 1 || (n & (n - 1)) != 0 || keys.len % 8 != 0 || values.len != keys.len
            || !PyCallable_Check(compute)) {
        PyBuffer_Release(&keys);
        PyBuffer_Release(&values);
        PyErr_SetString(PyExc_ValueError, "canonical(keys, values, compute): keys and values "
                        "int64 of one power-of-two length, compute callable");
        return NULL;
    }
    e->ckeys = keys;
    e->cvalues = values;
    Py_INCREF(compute);
    e->compute = compute;
    Py_RETURN_NONE;
}

static PyObject *emitter_steps(PyObject *self, PyObject *list) {
    Emitter *e = (Emitter *)self;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "steps(list)");
        return NULL;
    }
    Py_INCREF(list);
    Py_XSETREF(e->steps, list);
    Py_RETURN_NONE;
}

static PyObject *emitter_unwatch_py(PyObject *self, PyObject *unused) {
    emitter_unwatch((Emitter *)self);
    Py_RETURN_NONE;
}

static PyMethodDef emitter_methods[] = {
    {"watch", emitter_watch, METH_VARARGS,
     "watch(table, fps, fired): drop successors whose fingerprint the store's index holds, "
     "counting them in fired[label] (the buffers are held until the next watch/unwatch)."},
    {"unwatch", emitter_unwatch_py, METH_NOARGS, "Keep every successor again."},
    {"steps", emitter_steps, METH_O,
     "steps(list): append every successor to list too, kept or dropped (action properties "
     "see every step)."},
    {"canonical", emitter_canonical, METH_VARARGS,
     "canonical(keys, values, compute): the fingerprint of t is compute(t, raw), remembered "
     "in keys/values (int64, power-of-two length) at slot raw & (len - 1), where raw is t's "
     "structural fingerprint; 0 in keys marks an empty slot (raw is never 0)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef emitter_members[] = {
    {"count", T_PYSSIZET, offsetof(Emitter, count), READONLY, "calls so far"},
    {"dropped", T_PYSSIZET, offsetof(Emitter, dropped), READONLY, "successors dropped"},
    {NULL, 0, 0, 0, NULL},
};

static void emitter_dealloc(PyObject *self) {
    Emitter *e = (Emitter *)self;
    emitter_unwatch(e);
    Py_XDECREF(e->states);
    Py_XDECREF(e->fps);
    Py_XDECREF(e->acts);
    Py_XDECREF(e->fp_fn);
    Py_XDECREF(e->steps);
    PyMem_Free(e->seen);
    if (e->compute) {
        PyBuffer_Release(&e->ckeys);
        PyBuffer_Release(&e->cvalues);
        Py_DECREF(e->compute);
    }
    Py_TYPE(self)->tp_free(self);
}

static PyObject *emitter_new(PyTypeObject *tp, PyObject *args, PyObject *kw) {
    PyObject *a, *b, *c, *fp = NULL;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Emitter(states, fps, acts[, fp]) takes no keywords");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O!O!|O:Emitter", &PyList_Type, &a, &PyList_Type, &b,
                          &PyList_Type, &c, &fp))
        return NULL;
    if (fp == Py_None) fp = NULL;
    if (fp && !PyCallable_Check(fp)) {
        PyErr_SetString(PyExc_TypeError, "Emitter: fp must be callable");
        return NULL;
    }
    Emitter *e = (Emitter *)tp->tp_alloc(tp, 0);
    if (!e) return NULL;
    Py_INCREF(a);
    Py_INCREF(b);
    Py_INCREF(c);
    e->states = a;
    e->fps = b;
    e->acts = c;
    e->vectorcall = emitter_call;
    e->watching = 0;
    e->count = e->dropped = 0;
    Py_XINCREF(fp);
    e->fp_fn = fp;
    e->compute = NULL;
    e->steps = NULL;
    e->seen = NULL;
    e->seen_used = 0;
    return (PyObject *)e;
}

static PyTypeObject EmitterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_fpcore.Emitter",
    .tp_basicsize = sizeof(Emitter),
    .tp_dealloc = emitter_dealloc,
    .tp_vectorcall_offset = offsetof(Emitter, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Emitter(states, fps, acts): emit(t, k) appends t, fingerprint(t) and k "
              "(after watch(...), only where t is not stored yet).",
    .tp_new = emitter_new,
    .tp_methods = emitter_methods,
    .tp_members = emitter_members,
};

static PyMethodDef methods[] = {
    {"fingerprint", py_fingerprint, METH_O, "The structural 64-bit fingerprint of a value."},
    {"new_tuple", (PyCFunction)(void (*)(void))py_new_tuple, METH_FASTCALL,
     "new_tuple(cls, *items): tuple.__new__(cls, items), without the Python-level __new__."},
    {"rows", (PyCFunction)(void (*)(void))py_rows, METH_FASTCALL,
     "rows(cls, states): the states' plain tuples, or None if one is not of type cls."},
    {"of_rows", (PyCFunction)(void (*)(void))py_of_rows, METH_FASTCALL,
     "of_rows(cls, rows): [tuple.__new__(cls, row) for row in rows]."},
    {"except_at", (PyCFunction)(void (*)(void))py_except_at, METH_FASTCALL,
     "except_at(t, i, v): t[:i] + (v,) + t[i + 1:]."},
    {"init", py_init, METH_O, "Set the type classifier: classify(type) -> (kind, tag, fields)."},
    {"table_insert", py_table_insert, METH_VARARGS,
     "table_insert(table, keys, out) -> number added (-1: table full): insert int64 "
     "fingerprints into a shared uint64 open-addressing table with compare-and-swap; "
     "out[i] = 1 where this call added keys[i]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fpcore", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fpcore(void) {
    if (PyType_Ready(&EmitterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&EmitterType);
    if (PyModule_AddObject(m, "Emitter", (PyObject *)&EmitterType) < 0) {
        Py_DECREF(&EmitterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
