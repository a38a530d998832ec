/* The compiled line builder (builder.py) in C: a sheet's plan run for each line of a CSV.
 *
 * `builder.line_builder` writes a Python function a sheet; this module takes the same plan,
 * flattened by `builder._native`, and runs it without the interpreter's dispatch, about a
 * quarter of what building a line costs there. `Groups` runs SheetReader.groups' loop over
 * the lines in the same way. Both must do exactly what the Python code does:
 * tests/schemas/tables/test_builder.py reads drawn lines with both and with the general
 * reader. Anything unusual raises IrregularLineError (or what a cell reader raises) and the
 * reader builds that record again with its general code, as for the Python builder.
 * `line_breaks`, for parts.py, counts a part's line breaks as `bytes.count` does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { KIND_STRING, KIND_CODE, KIND_KNOWN, KIND_WHOLE, KIND_OTHER };

typedef struct {
    PyObject *name;  /* a member's name */
    PyObject *fixed; /* the members an object made there starts with: a dict, or NULL */
} Step;

typedef struct {
    Py_ssize_t at;
    int kind;
    PyObject *read;  /* the column's cell reader */
    PyObject *table; /* the codes, or the cells remembered (`known`); NULL when neither */
    PyObject *name;
    Step *holders;
    Py_ssize_t n_holders;
} Slot;

typedef struct {
    Py_ssize_t parent; /* the enclosing list's number, -1 for a list of the record */
    Step *holders;
    Py_ssize_t n_holders;
    PyObject *name;
    PyObject *fixed; /* a dict, or NULL */
    PyObject *number;
    PyObject **inner; /* the numbers of the lists inside its rows */
    Py_ssize_t n_inner;
} Plan;

typedef struct {
    Py_ssize_t plan;
    Slot *slots;
    Py_ssize_t n_slots;
} Segment;

typedef struct {
    PyObject_HEAD
    PyObject *spec; /* the plan as given: it holds every object the arrays below point to */
    Py_ssize_t *unmapped;
    Py_ssize_t n_unmapped;
    Py_ssize_t width;
    Slot *own;
    Py_ssize_t n_own;
    Segment *segments;
    Py_ssize_t n_segments;
    Plan *plans;
    Py_ssize_t n_plans;
    PyObject *irregular; /* IrregularLineError */
    PyObject *blank;     /* BLANK */
    PyObject *small;     /* SMALL: plain whole numbers by their text */
    Py_ssize_t max_digits;
} Builder;

static PyObject *str_strip;

/* --- reading the plan -------------------------------------------------------------------- */

static int as_size(PyObject *value, Py_ssize_t *out) {
    *out = PyLong_AsSsize_t(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *item(PyObject *tuple, Py_ssize_t index) {
    if (!PyTuple_Check(tuple) || index >= PyTuple_GET_SIZE(tuple)) {
        PyErr_SetString(PyExc_TypeError, "a line builder's plan is not as builder._native makes it");
        return NULL;
    }
    return PyTuple_GET_ITEM(tuple, index);
}

static PyObject *dict_or_null(PyObject *value) {
    return (value == Py_None) ? NULL : value;
}

/* A zeroed array of `size`-byte entries, one for each item of the tuple `spec` (counted into
 * `count`); NULL with TypeError when `spec` is not a tuple, or MemoryError. */
static void *array_for(PyObject *spec, const char *what, Py_ssize_t *count, size_t size) {
    if (!PyTuple_Check(spec)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple", what);
        return NULL;
    }
    *count = PyTuple_GET_SIZE(spec);
    void *found = PyMem_Calloc(*count ? (size_t)*count : 1, size);
    if (found == NULL) PyErr_NoMemory();
    return found;
}

static int read_steps(PyObject *spec, Step **out, Py_ssize_t *count) {
    if ((*out = array_for(spec, "holders", count, sizeof(Step))) == NULL) return -1;
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *step = PyTuple_GET_ITEM(spec, i), *name, *fixed;
        if ((name = item(step, 0)) == NULL || (fixed = item(step, 1)) == NULL) return -1;
        (*out)[i].name = name;
        (*out)[i].fixed = dict_or_null(fixed);
    }
    return 0;
}

static int read_slots(PyObject *spec, Slot **out, Py_ssize_t *count) {
    if ((*out = array_for(spec, "slots", count, sizeof(Slot))) == NULL) return -1;
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *slot = PyTuple_GET_ITEM(spec, i), *at, *kind, *read, *table, *name, *holders;
        Slot *found = &(*out)[i];
        Py_ssize_t kind_number;
        if ((at = item(slot, 0)) == NULL || (kind = item(slot, 1)) == NULL ||
            (read = item(slot, 2)) == NULL || (table = item(slot, 3)) == NULL ||
            (name = item(slot, 4)) == NULL || (holders = item(slot, 5)) == NULL)
            return -1;
        if (as_size(at, &found->at) < 0 || as_size(kind, &kind_number) < 0) return -1;
        if (kind_number < KIND_STRING || kind_number > KIND_OTHER) {
            PyErr_SetString(PyExc_ValueError, "unknown kind of slot");
            return -1;
        }
        found->kind = (int)kind_number;
        found->read = read;
        found->table = dict_or_null(table);
        if ((found->kind == KIND_CODE || found->kind == KIND_KNOWN) &&
            (found->table == NULL || !PyDict_Check(found->table))) {
            PyErr_SetString(PyExc_TypeError, "a code or known slot needs its dict");
            return -1;
        }
        found->name = name;
        if (read_steps(holders, &found->holders, &found->n_holders) < 0) return -1;
    }
    return 0;
}

static void free_slots(Slot *slots, Py_ssize_t count) {
    if (slots == NULL) return;
    for (Py_ssize_t i = 0; i < count; i++) PyMem_Free(slots[i].holders);
    PyMem_Free(slots);
}

static void builder_free_arrays(Builder *self) {
    PyMem_Free(self->unmapped);
    free_slots(self->own, self->n_own);
    if (self->segments != NULL) {
        for (Py_ssize_t i = 0; i < self->n_segments; i++)
            free_slots(self->segments[i].slots, self->segments[i].n_slots);
        PyMem_Free(self->segments);
    }
    if (self->plans != NULL) {
        for (Py_ssize_t i = 0; i < self->n_plans; i++) {
            PyMem_Free(self->plans[i].holders);
            PyMem_Free(self->plans[i].inner);
        }
        PyMem_Free(self->plans);
    }
    self->unmapped = NULL;
    self->own = NULL;
    self->segments = NULL;
    self->plans = NULL;
}

static int read_plans(Builder *self, PyObject *spec) {
    self->plans = array_for(spec, "plans", &self->n_plans, sizeof(Plan));
    if (self->plans == NULL) return -1;
    for (Py_ssize_t i = 0; i < self->n_plans; i++) {
        PyObject *plan = PyTuple_GET_ITEM(spec, i), *parent, *holders, *name, *fixed, *number,
                 *inner;
        Plan *found = &self->plans[i];
        if ((parent = item(plan, 0)) == NULL || (holders = item(plan, 1)) == NULL ||
            (name = item(plan, 2)) == NULL || (fixed = item(plan, 3)) == NULL ||
            (number = item(plan, 4)) == NULL || (inner = item(plan, 5)) == NULL)
            return -1;
        if (as_size(parent, &found->parent) < 0) return -1;
        if (found->parent >= self->n_plans || found->parent >= i) {
            PyErr_SetString(PyExc_ValueError, "a list's parent must come before it");
            return -1;
        }
        if (read_steps(holders, &found->holders, &found->n_holders) < 0) return -1;
        found->name = name;
        found->fixed = dict_or_null(fixed);
        found->number = number;
        found->inner = array_for(inner, "inner lists", &found->n_inner, sizeof(PyObject *));
        if (found->inner == NULL) return -1;
        for (Py_ssize_t j = 0; j < found->n_inner; j++)
            found->inner[j] = PyTuple_GET_ITEM(inner, j);
    }
    return 0;
}

/* Builder(spec): spec is (unmapped, width, own, segments, plans, irregular, blank, small,
 * max_digits), as `builder._native` makes it. */
static int builder_init(Builder *self, PyObject *args, PyObject *kwargs) {
    PyObject *spec, *unmapped, *width, *own, *segments, *plans, *max_digits;
    if (!PyArg_ParseTuple(args, "O!:Builder", &PyTuple_Type, &spec)) return -1;
    if (self->spec != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Builder is made once");
        return -1;
    }
    if (PyTuple_GET_SIZE(spec) != 9) {
        PyErr_SetString(PyExc_TypeError, "a line builder's plan has nine parts");
        return -1;
    }
    Py_INCREF(spec);
    self->spec = spec;
    unmapped = PyTuple_GET_ITEM(spec, 0);
    width = PyTuple_GET_ITEM(spec, 1);
    own = PyTuple_GET_ITEM(spec, 2);
    segments = PyTuple_GET_ITEM(spec, 3);
    plans = PyTuple_GET_ITEM(spec, 4);
    self->irregular = PyTuple_GET_ITEM(spec, 5);
    self->blank = PyTuple_GET_ITEM(spec, 6);
    self->small = PyTuple_GET_ITEM(spec, 7);
    max_digits = PyTuple_GET_ITEM(spec, 8);
    if (!PyDict_Check(self->small) || !PyTuple_Check(unmapped) || !PyTuple_Check(segments)) {
        PyErr_SetString(PyExc_TypeError, "a line builder's plan is not as builder._native makes it");
        return -1;
    }
    if (as_size(width, &self->width) < 0 || as_size(max_digits, &self->max_digits) < 0)
        return -1;
    self->unmapped = array_for(unmapped, "unmapped", &self->n_unmapped, sizeof(Py_ssize_t));
    if (self->unmapped == NULL) return -1;
    for (Py_ssize_t i = 0; i < self->n_unmapped; i++)
        if (as_size(PyTuple_GET_ITEM(unmapped, i), &self->unmapped[i]) < 0) return -1;
    if (read_slots(own, &self->own, &self->n_own) < 0) return -1;
    if (read_plans(self, plans) < 0) return -1;
    self->segments = array_for(segments, "segments", &self->n_segments, sizeof(Segment));
    if (self->segments == NULL) return -1;
    for (Py_ssize_t i = 0; i < self->n_segments; i++) {
        PyObject *segment = PyTuple_GET_ITEM(segments, i), *plan, *slots;
        Segment *found = &self->segments[i];
        if ((plan = item(segment, 0)) == NULL || (slots = item(segment, 1)) == NULL) return -1;
        if (as_size(plan, &found->plan) < 0) return -1;
        if (found->plan < 0 || found->plan >= self->n_plans) {
            PyErr_SetString(PyExc_ValueError, "a segment's list is not among the plans");
            return -1;
        }
        if (read_slots(slots, &found->slots, &found->n_slots) < 0) return -1;
    }
    return 0;
}

static void builder_dealloc(Builder *self) {
    builder_free_arrays(self);
    Py_CLEAR(self->spec);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* --- building a line -------------------------------------------------------------------- */

static int irregular(Builder *self) {
    PyErr_SetNone(self->irregular);
    return -1;
}

/* is_blank(raw): None, or text that is empty or all spaces. */
static int is_blank(PyObject *raw) {
    if (raw == Py_None) return 1;
    if (!PyUnicode_Check(raw)) return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(raw);
    int kind = PyUnicode_KIND(raw);
    const void *data = PyUnicode_DATA(raw);
    for (Py_ssize_t i = 0; i < length; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) return 0;
    return 1;
}

/* bool(raw): for text, its length, without the call. */
static int filled_cell(PyObject *raw) {
    return PyUnicode_CheckExact(raw) ? PyUnicode_GET_LENGTH(raw) != 0 : PyObject_IsTrue(raw);
}

/* Text with no space at either end, which `str.strip` gives back as it is: no call needed. */
static int unspaced(PyObject *raw) {
    Py_ssize_t last = PyUnicode_GET_LENGTH(raw) - 1;
    int kind = PyUnicode_KIND(raw);
    const void *data = PyUnicode_DATA(raw);
    return last >= 0 && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, 0)) &&
           !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, last));
}

/* Plain ASCII digits, few enough to fit: their number (a new reference); else NULL, no error.
 * What SMALL and `int(raw)` give for them, without hashing the text. */
static PyObject *plain_whole(PyObject *raw, Py_ssize_t max_digits) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(raw);
    if (!PyUnicode_IS_ASCII(raw) || length == 0 || length > max_digits || length > 18)
        return NULL;
    const Py_UCS1 *digits = PyUnicode_1BYTE_DATA(raw);
    long long number = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9') return NULL;
        number = number * 10 + (digits[i] - '0');
    }
    return PyLong_FromLongLong(number);
}

/* A new object with these fixed members (a copy), or an empty one. */
static PyObject *made(PyObject *fixed) {
    return fixed == NULL ? PyDict_New() : PyDict_Copy(fixed);
}

/* The object at `steps` below `start`, each made with its fixed members where missing.
 * A borrowed reference. */
static PyObject *holder(Builder *self, PyObject *start, Step *steps, Py_ssize_t count) {
    PyObject *at = start;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyDict_Check(at)) {
            irregular(self);
            return NULL;
        }
        PyObject *found = PyDict_GetItemWithError(at, steps[i].name);
        if (found == NULL || found == Py_None) {
            if (PyErr_Occurred()) return NULL;
            PyObject *fresh = made(steps[i].fixed);
            if (fresh == NULL) return NULL;
            int failed = PyDict_SetItem(at, steps[i].name, fresh);
            Py_DECREF(fresh); /* `at` holds it */
            if (failed) return NULL;
            found = fresh;
        }
        at = found;
    }
    if (!PyDict_Check(at)) {
        irregular(self);
        return NULL;
    }
    return at;
}

/* A cell's value (a new reference), NULL with no error for none, NULL with one on failure.
 * As `_Source.value`: the commonest cells are read here, the rest by the column's reader. */
static PyObject *value_of(Builder *self, Slot *slot, PyObject *raw) {
    PyObject *value;
    switch (slot->kind) {
    case KIND_STRING:
        if (PyUnicode_CheckExact(raw) && unspaced(raw)) return Py_NewRef(raw);
        value = PyObject_CallMethodNoArgs(raw, str_strip);
        if (value == NULL) return NULL;
        if (PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 0) {
            Py_DECREF(value);
            return NULL;
        }
        return value;
    case KIND_CODE: {
        int listed = PyDict_Contains(slot->table, raw);
        if (listed < 0) return NULL;
        if (listed) return Py_NewRef(raw);
        break;
    }
    case KIND_KNOWN:
        value = PyDict_GetItemWithError(slot->table, raw);
        if (value != NULL && value != self->blank) return Py_NewRef(value);
        if (PyErr_Occurred()) return NULL;
        break;
    case KIND_WHOLE:
        if (PyUnicode_CheckExact(raw) && (value = plain_whole(raw, self->max_digits)) != NULL)
            return value;
        if (PyErr_Occurred()) return NULL;
        value = PyDict_GetItemWithError(self->small, raw);
        if (value != NULL && value != Py_None) return Py_NewRef(value);
        if (PyErr_Occurred()) return NULL;
        if (PyUnicode_Check(raw) && PyUnicode_GET_LENGTH(raw) <= self->max_digits) {
            PyObject *decimal = PyObject_CallMethod(raw, "isdecimal", NULL);
            if (decimal == NULL) return NULL;
            int plain = PyObject_IsTrue(decimal);
            Py_DECREF(decimal);
            if (plain < 0) return NULL;
            if (plain) return PyLong_FromUnicodeObject(raw, 10);
        }
        break;
    default:
        break;
    }
    value = PyObject_CallOneArg(slot->read, raw);
    if (value == NULL) return NULL;
    if (value == self->blank) {
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/* The line's cell at `at`, or NULL with no error when it is blank for the builder (""). */
static PyObject *cell(PyObject *const *cells, Py_ssize_t length, Py_ssize_t at) {
    if (at >= length) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return NULL;
    }
    return cells[at];
}

static PyObject *new_row(Builder *self, PyObject *record, PyObject *current, Py_ssize_t number);

/* `item` added to its list (made with its enclosing lists' rows if need be), made current. */
static int add_row(
    Builder *self, PyObject *record, PyObject *current, Py_ssize_t number, PyObject *row
) {
    Plan *plan = &self->plans[number];
    PyObject *container = record, *fresh = NULL;
    if (plan->parent >= 0) {
        container = PyDict_GetItemWithError(current, self->plans[plan->parent].number);
        if (container == NULL || container == Py_None) {
            if (PyErr_Occurred()) return -1;
            fresh = new_row(self, record, current, plan->parent);
            if (fresh == NULL) return -1;
            container = fresh;
        }
    }
    PyObject *at = holder(self, container, plan->holders, plan->n_holders);
    Py_XDECREF(fresh); /* the record holds it now */
    if (at == NULL) return -1;
    PyObject *items = PyDict_GetItemWithError(at, plan->name);
    if (items == NULL || items == Py_None) {
        if (PyErr_Occurred()) return -1;
        items = PyList_New(0);
        if (items == NULL) return -1;
        int failed = PyDict_SetItem(at, plan->name, items);
        Py_DECREF(items);
        if (failed) return -1;
    }
    if (!PyList_Check(items)) return irregular(self);
    if (PyList_Append(items, row) < 0) return -1;
    if (PyDict_SetItem(current, plan->number, row) < 0) return -1;
    for (Py_ssize_t i = 0; i < plan->n_inner; i++) {
        if (PyDict_DelItem(current, plan->inner[i]) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) return -1;
            PyErr_Clear();
        }
    }
    return 0;
}

/* A list's new row, for the lists inside it to fill: a new reference. */
static PyObject *new_row(Builder *self, PyObject *record, PyObject *current, Py_ssize_t number) {
    PyObject *row = made(self->plans[number].fixed);
    if (row == NULL) return NULL;
    if (add_row(self, record, current, number, row) < 0) {
        Py_DECREF(row);
        return NULL;
    }
    return row;
}

static int build_own(Builder *self, PyObject *record, PyObject *const *cells, Py_ssize_t length) {
    for (Py_ssize_t i = 0; i < self->n_own; i++) {
        Slot *slot = &self->own[i];
        PyObject *raw = cell(cells, length, slot->at);
        if (raw == NULL) return -1;
        int filled = filled_cell(raw);
        if (filled < 0) return -1;
        if (!filled) continue;
        PyObject *value = value_of(self, slot, raw);
        if (value == NULL) {
            if (PyErr_Occurred()) return -1;
            continue;
        }
        PyObject *at = holder(self, record, slot->holders, slot->n_holders);
        PyObject *kept = at == NULL ? NULL : PyDict_SetDefault(at, slot->name, value);
        int differs = kept == NULL ? -1 : PyObject_RichCompareBool(kept, value, Py_NE);
        Py_DECREF(value);
        if (differs < 0) return -1;
        if (differs) return irregular(self);
    }
    return 0;
}

static int build_segment(
    Builder *self,
    Segment *segment,
    PyObject *record,
    PyObject *current,
    PyObject *const *cells,
    Py_ssize_t length
) {
    Plan *plan = &self->plans[segment->plan];
    PyObject *row = made(plan->fixed);
    if (row == NULL) return -1;
    Py_ssize_t fixed = PyDict_GET_SIZE(row);
    for (Py_ssize_t i = 0; i < segment->n_slots; i++) {
        Slot *slot = &segment->slots[i];
        PyObject *raw = cell(cells, length, slot->at);
        int filled = raw == NULL ? -1 : filled_cell(raw);
        if (filled < 0) goto failed;
        if (!filled) continue;
        PyObject *value = value_of(self, slot, raw);
        if (value == NULL) {
            if (PyErr_Occurred()) goto failed;
            continue;
        }
        PyObject *at = holder(self, row, slot->holders, slot->n_holders);
        int stored = at == NULL ? -1 : PyDict_SetItem(at, slot->name, value);
        Py_DECREF(value);
        if (stored < 0) goto failed;
    }
    if (PyDict_GET_SIZE(row) > fixed && add_row(self, record, current, segment->plan, row) < 0)
        goto failed;
    Py_DECREF(row);
    return 0;
failed:
    Py_DECREF(row);
    return -1;
}

/* A line's cells into the record: 0, or -1 with the error set. */
static int build_line(Builder *self, PyObject *record, PyObject *line, PyObject *current) {
    PyObject *fast = PySequence_Fast(line, "a line must be a sequence of cells");
    if (fast == NULL) return -1;
    Py_ssize_t length = PySequence_Fast_GET_SIZE(fast);
    PyObject *const *cells = PySequence_Fast_ITEMS(fast);
    int failed = 0;
    for (Py_ssize_t i = 0; i < self->n_unmapped && !failed; i++) {
        PyObject *raw = cell(cells, length, self->unmapped[i]);
        if (raw == NULL || !is_blank(raw)) failed = raw == NULL ? -1 : irregular(self);
    }
    for (Py_ssize_t i = self->width; i < length && !failed; i++)
        if (!is_blank(cells[i])) failed = irregular(self);
    if (!failed) failed = build_own(self, record, cells, length);
    for (Py_ssize_t i = 0; i < self->n_segments && !failed; i++)
        failed = build_segment(self, &self->segments[i], record, current, cells, length);
    Py_DECREF(fast);
    return failed ? -1 : 0;
}

/* build(record, line, current): as the function `builder.line_builder` writes. */
static PyObject *builder_call(Builder *self, PyObject *args, PyObject *kwargs) {
    PyObject *record, *line, *current;
    if (!PyArg_ParseTuple(args, "O!OO!:build", &PyDict_Type, &record, &line, &PyDict_Type,
                          &current))
        return NULL;
    if (build_line(self, record, line, current) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "care_exchange_standard.tables._line_builder.Builder",
    .tp_doc = PyDoc_STR("A sheet's line builder: build(record, line, current), as builder.py's."),
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)builder_init,
    .tp_dealloc = (destructor)builder_dealloc,
    .tp_call = (ternaryfunc)builder_call,
};

/* --- grouping lines into records -------------------------------------------------------- */

/* SheetReader.groups for a sheet this builder reads: `Groups(spec, rows)` yields what that
 * generator yields, in the same order and with the same calls back into the reader. spec is
 * (build, Built, fixed, id_index, width, id_slot, cell_text, placed, starts_group, add_line,
 * caught), as `SheetReader._native_groups` makes it. */
typedef struct {
    PyObject_HEAD
    PyObject *spec;
    PyObject *rows;    /* the iterator of (row, line) */
    PyObject *group;   /* the group being read, or NULL */
    PyObject *kept;    /* a Built group's lines, record and current rows (borrowed from it) */
    PyObject *record;
    PyObject *current;
    int placed;        /* the group is a Group: lines go to the reader's `_add_line` */
    PyObject *pending; /* (row, line, line_id) of a line that started a group, not yet read */
    PyObject *key;     /* the group's key (as `group.key`) */
    Py_ssize_t width;
    Py_ssize_t id_index; /* -1: the sheet has no identifier column */
    int finished;
} Groups;

enum {
    G_BUILD, G_BUILT, G_FIXED, G_ID_INDEX, G_WIDTH, G_ID_SLOT, G_CELL_TEXT, G_PLACED,
    G_STARTS, G_ADD_LINE, G_CAUGHT, G_SIZE
};

#define SPEC_OF(spec, index) PyTuple_GET_ITEM((spec), (index))

static PyObject *groups_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *spec, *rows;
    if (!PyArg_ParseTuple(args, "O!O:Groups", &PyTuple_Type, &spec, &rows)) return NULL;
    int callables = PyTuple_GET_SIZE(spec) == G_SIZE;
    for (int i = 0; callables && i < G_SIZE; i++)
        if (i != G_FIXED && i != G_ID_INDEX && i != G_WIDTH && i != G_ID_SLOT && i != G_CAUGHT)
            callables = PyCallable_Check(PyTuple_GET_ITEM(spec, i));
    if (!callables || !(SPEC_OF(spec, G_FIXED) == Py_None || PyDict_Check(SPEC_OF(spec, G_FIXED))) ||
        !(SPEC_OF(spec, G_ID_INDEX) == Py_None || PyLong_Check(SPEC_OF(spec, G_ID_INDEX))) ||
        !PyLong_Check(SPEC_OF(spec, G_WIDTH))) {
        PyErr_SetString(PyExc_TypeError, "Groups' spec is not as SheetReader makes it");
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(rows);
    if (iterator == NULL) return NULL;
    Groups *self = (Groups *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(iterator);
        return NULL;
    }
    self->spec = Py_NewRef(spec);
    self->rows = iterator;
    self->id_index = -1;
    PyObject *index = SPEC_OF(spec, G_ID_INDEX);
    if (as_size(SPEC_OF(spec, G_WIDTH), &self->width) < 0 ||
        (index != Py_None && as_size(index, &self->id_index) < 0)) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int groups_traverse(Groups *self, visitproc visit, void *arg) {
    Py_VISIT(self->spec);
    Py_VISIT(self->rows);
    Py_VISIT(self->group);
    Py_VISIT(self->pending);
    Py_VISIT(self->key);
    return 0;
}

static int groups_clear(Groups *self) {
    Py_CLEAR(self->spec);
    Py_CLEAR(self->rows);
    Py_CLEAR(self->group);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->key);
    self->kept = self->record = self->current = NULL;
    return 0;
}

static void groups_dealloc(Groups *self) {
    PyObject_GC_UnTrack(self);
    groups_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define SPEC(self, index) PyTuple_GET_ITEM((self)->spec, (index))

/* Start a Built group for a line (the previous one already handed on). */
static int start_built(Groups *self, PyObject *key, PyObject *row) {
    PyObject *fixed = SPEC(self, G_FIXED);
    PyObject *record = fixed == Py_None ? PyDict_New() : PyDict_Copy(fixed);
    if (record == NULL) return -1;
    PyObject *group = PyObject_CallFunctionObjArgs(SPEC(self, G_BUILT), key, row, record, NULL);
    Py_DECREF(record);
    if (group == NULL) return -1;
    PyObject *kept = PyObject_GetAttrString(group, "kept");
    PyObject *current = kept == NULL ? NULL : PyObject_GetAttrString(group, "rows");
    PyObject *made = current == NULL ? NULL : PyObject_GetAttrString(group, "record");
    /* the group holds all three: borrowed from it from here on */
    Py_XDECREF(kept);
    Py_XDECREF(current);
    Py_XDECREF(made);
    if (made == NULL || !PyList_Check(kept) || !PyDict_Check(current) || !PyDict_Check(made)) {
        Py_DECREF(group);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "Built is not as expected");
        return -1;
    }
    Py_XSETREF(self->group, group);
    Py_XSETREF(self->key, Py_NewRef(key));
    self->kept = kept;
    self->current = current;
    self->record = made;
    self->placed = 0;
    return 0;
}

/* A line read into the current group (what follows the group's start in the generator). */
static int read_line(Groups *self, PyObject *row, PyObject *line, PyObject *line_id) {
    if (self->placed) {
        PyObject *added = PyObject_CallFunctionObjArgs(SPEC(self, G_ADD_LINE), self->group, row,
                                                       line, line_id, NULL);
        Py_XDECREF(added);
        return added == NULL ? -1 : 0;
    }
    PyObject *entry = PyTuple_Pack(3, row, line, line_id);
    if (entry == NULL) return -1;
    int failed = PyList_Append(self->kept, entry);
    Py_DECREF(entry);
    if (failed) return -1;
    PyObject *id_slot = SPEC(self, G_ID_SLOT);
    if (line_id != Py_None && id_slot != Py_None) {
        int has = PyDict_Contains(self->record, id_slot);
        if (has < 0 || (!has && PyDict_SetItem(self->record, id_slot, line_id) < 0)) return -1;
    }
    PyObject *build = SPEC(self, G_BUILD);
    if (Py_IS_TYPE(build, &BuilderType) && PyDict_CheckExact(self->record) &&
        PyDict_CheckExact(self->current)) {
        if (build_line((Builder *)build, self->record, line, self->current) == 0) return 0;
    } else {
        PyObject *done =
            PyObject_CallFunctionObjArgs(build, self->record, line, self->current, NULL);
        Py_XDECREF(done);
        if (done != NULL) return 0;
    }
    if (!PyErr_ExceptionMatches(SPEC(self, G_CAUGHT))) return -1;
    PyErr_Clear();
    PyObject *placed = PyObject_CallOneArg(SPEC(self, G_PLACED), self->group);
    if (placed == NULL) return -1;
    Py_XSETREF(self->group, placed);
    self->kept = self->record = self->current = NULL;
    self->placed = 1;
    return 0;
}

/* The line's identifier (a new reference): None when it has none. */
static PyObject *line_id_of(Groups *self, PyObject *const *cells, Py_ssize_t length) {
    Py_ssize_t at = self->id_index;
    if (at < 0) Py_RETURN_NONE;
    if (at >= length) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return NULL;
    }
    PyObject *raw = cells[at];
    if (PyUnicode_Check(raw) && PyUnicode_GET_LENGTH(raw) == 0) Py_RETURN_NONE;
    PyObject *text;
    if (PyUnicode_CheckExact(raw)) {
        text = unspaced(raw) ? Py_NewRef(raw) : PyObject_CallMethodNoArgs(raw, str_strip);
    } else {
        text = PyObject_CallOneArg(SPEC(self, G_CELL_TEXT), raw);
    }
    if (text == NULL) return NULL;
    int filled = PyObject_IsTrue(text);
    if (filled <= 0) {
        Py_DECREF(text);
        if (filled < 0) return NULL;
        Py_RETURN_NONE;
    }
    return text;
}

static PyObject *groups_next(Groups *self) {
    if (self->spec == NULL) return NULL;
    if (self->pending != NULL) { /* the line that started the group handed on last */
        PyObject *pending = self->pending;
        self->pending = NULL;
        int failed = read_line(self, PyTuple_GET_ITEM(pending, 0), PyTuple_GET_ITEM(pending, 1),
                               PyTuple_GET_ITEM(pending, 2));
        Py_DECREF(pending);
        if (failed) return NULL;
    }
    Py_ssize_t width = self->width;
    while (!self->finished) {
        PyObject *item = PyIter_Next(self->rows);
        if (item == NULL) {
            if (PyErr_Occurred()) return NULL;
            self->finished = 1;
            break;
        }
        PyObject *row, *line, *line_id = NULL, *previous = NULL;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            Py_DECREF(item);
            PyErr_SetString(PyExc_TypeError, "rows must be (row, line) pairs");
            return NULL;
        }
        row = PyTuple_GET_ITEM(item, 0);
        line = PyTuple_GET_ITEM(item, 1);
        if (PyList_CheckExact(line) && PyList_GET_SIZE(line) >= width) {
            Py_INCREF(line);
        } else if ((line = PySequence_List(line)) == NULL) {
            goto failed;
        }
        Py_ssize_t length = PyList_GET_SIZE(line);
        for (; length < width; length++) { /* padded, as the generator pads it */
            PyObject *blank = PyUnicode_FromStringAndSize("", 0);
            if (blank == NULL || PyList_Append(line, blank) < 0) {
                Py_XDECREF(blank);
                goto failed;
            }
            Py_DECREF(blank);
        }
        PyObject *const *cells = PySequence_Fast_ITEMS(line);
        line_id = line_id_of(self, cells, length);
        if (line_id == NULL) goto failed;
        if (line_id == Py_None) {
            int blank = 1;
            for (Py_ssize_t i = 0; i < length && blank; i++) blank = is_blank(cells[i]);
            if (blank) {
                Py_DECREF(item);
                Py_DECREF(line);
                Py_DECREF(line_id);
                continue;
            }
        }
        int starts = self->group == NULL;
        if (!starts && line_id != Py_None) {
            starts = PyObject_RichCompareBool(line_id, self->key, Py_NE);
        } else if (!starts) {
            PyObject *found = PyObject_CallFunctionObjArgs(SPEC(self, G_STARTS), self->group,
                                                           line_id, line, NULL);
            starts = found == NULL ? -1 : PyObject_IsTrue(found);
            Py_XDECREF(found);
        }
        if (starts < 0) goto failed;
        if (starts) {
            PyObject *key = line_id == Py_None && self->group != NULL ? self->key : line_id;
            Py_INCREF(key);
            previous = self->group;
            self->group = NULL;
            int made = start_built(self, key, row);
            Py_DECREF(key);
            if (made < 0) goto failed;
            if (previous != NULL) { /* handed on first, as the generator yields it first */
                self->pending = PyTuple_Pack(3, row, line, line_id);
                Py_DECREF(item);
                Py_DECREF(line);
                Py_DECREF(line_id);
                if (self->pending == NULL) {
                    Py_DECREF(previous);
                    return NULL;
                }
                return previous;
            }
        }
        int read = read_line(self, row, line, line_id);
        Py_DECREF(item);
        Py_DECREF(line);
        Py_DECREF(line_id);
        if (read < 0) return NULL;
        continue;
    failed:
        Py_XDECREF(previous);
        Py_DECREF(item);
        Py_XDECREF(line);
        Py_XDECREF(line_id);
        return NULL;
    }
    PyObject *last = self->group;
    self->group = NULL;
    self->kept = self->record = self->current = NULL;
    return last; /* NULL (no error set): the iteration is over */
}

static PyTypeObject GroupsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "care_exchange_standard.tables._line_builder.Groups",
    .tp_doc = PyDoc_STR("SheetReader.groups for a sheet with a C line builder."),
    .tp_basicsize = sizeof(Groups),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = groups_new,
    .tp_dealloc = (destructor)groups_dealloc,
    .tp_traverse = (traverseproc)groups_traverse,
    .tp_clear = (inquiry)groups_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)groups_next,
};

/* --- counting a part's line breaks ------------------------------------------------------ */

static Py_ssize_t count_byte(const char *start, const char *end, int byte) {
    Py_ssize_t count = 0;
    while (start < end && (start = memchr(start, byte, (size_t)(end - start))) != NULL) {
        count++;
        start++;
    }
    return count;
}

/* line_breaks(data, end): the line feeds and the carriage returns in data[:end]. As
 * `data.count(b"\n", 0, end)` and the same for b"\r", which read a byte at a time: memchr
 * skips a line's bytes at once, and the process cutting a CSV into parts counts every one. */
static PyObject *line_breaks(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "line_breaks(data, end) takes two arguments");
        return NULL;
    }
    Py_ssize_t end = PyLong_AsSsize_t(args[1]);
    if (end == -1 && PyErr_Occurred()) return NULL;
    if (end < 0) {
        PyErr_SetString(PyExc_ValueError, "line_breaks: end must not be negative");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (end > view.len) end = view.len;
    const char *data = view.buf;
    Py_ssize_t feeds, returns;
    Py_BEGIN_ALLOW_THREADS
    feeds = count_byte(data, data + end, '\n');
    returns = count_byte(data, data + end, '\r');
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("(nn)", feeds, returns);
}

static PyMethodDef functions[] = {
    {"line_breaks", (PyCFunction)(void (*)(void))line_breaks, METH_FASTCALL,
     PyDoc_STR("line_breaks(data, end): (line feeds, carriage returns) in data[:end].")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "care_exchange_standard.tables._line_builder",
    .m_doc = PyDoc_STR("The compiled line builder of builder.py, run in C."),
    .m_size = -1,
    .m_methods = functions,
};

PyMODINIT_FUNC PyInit__line_builder(void) {
    str_strip = PyUnicode_InternFromString("strip");
    if (str_strip == NULL || PyType_Ready(&BuilderType) < 0 || PyType_Ready(&GroupsType) < 0)
        return NULL;
    PyObject *found = PyModule_Create(&module);
    if (found == NULL) return NULL;
    if (PyModule_AddObjectRef(found, "Builder", (PyObject *)&BuilderType) < 0 ||
        PyModule_AddObjectRef(found, "Groups", (PyObject *)&GroupsType) < 0) {
        Py_DECREF(found);
        return NULL;
    }
    return found;
}
