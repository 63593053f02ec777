/* Attribute reads of the compiled build, with an inline cache at each read.

   mypyc reads an attribute of an object that is not one of its native classes (a msgspec
   Struct: every message, log entry and Raft state) with PyObject_GetAttr: about 160
   instructions through the type's generic getattr, its method cache and the member
   descriptor, where the interpreter's LOAD_ATTR_SLOT takes about 10. tools/build_compiled.py
   includes this header after mypyc's CPy.h in every compiled module.

   Each read site keeps the name and the type it saw last, that type's version tag and the
   slot's offset. It caches only what the generic path would answer from a plain slot: the
   type's getattro is PyObject_GenericGetAttr, and the name (an exact str) resolves, through
   the type's MRO, to a member descriptor of kind T_OBJECT_EX or T_OBJECT, of a class the type
   derives from, read without an audit hook. A member descriptor is a data descriptor, so the
   generic path returns what it gives whatever the instance holds.

   The version tag stands for the facts the cache was built on. CPython gives a type a new tag,
   never reused, when it or a class of its MRO changes, by propagating the change from a class
   to its subclasses; so the cache is filled only when that propagation covers the whole MRO
   (every class of it is reached from the type through __bases__, as with the default MRO; a
   metaclass's mro() may put others there), and when the tag was valid before the lookup and
   is unchanged after it (a lookup can run code, a str subclass's __eq__ in a class's dict).
   The cache holds a reference to its name, so the name's address cannot be reused.

   A hit is an object of exactly that type, read under the same name, with the version tag
   unchanged and the slot set: one load. Anything else, an empty slot included (the generic
   path raises AttributeError or returns None), goes to PyObject_GetAttr. Same values, same
   errors. */

#ifndef RAFTSIM_FAST_GETATTR_H
#define RAFTSIM_FAST_GETATTR_H

#if defined(__GNUC__) && PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000

#include <structmember.h>

typedef struct {
    PyObject *name;                 /* a strong reference, once set */
    PyTypeObject *type;
    unsigned int version;
    Py_ssize_t offset;
} RaftsimAttrCache;

/* Is ``target`` ``tp`` or reached from it through __bases__? */
static int raftsim_reaches(PyTypeObject *tp, PyTypeObject *target) {
    if (tp == target)
        return 1;
    PyObject *bases = tp->tp_bases;
    if (bases == NULL || !PyTuple_Check(bases))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(bases); i++) {
        PyObject *base = PyTuple_GET_ITEM(bases, i);
        if (PyType_Check(base) && raftsim_reaches((PyTypeObject *)base, target))
            return 1;
    }
    return 0;
}

/* Does every change to a class of tp's MRO reach tp's version tag? */
static int raftsim_mro_from_bases(PyTypeObject *tp) {
    PyObject *mro = tp->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *k = PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(k) || !raftsim_reaches(tp, (PyTypeObject *)k))
            return 0;
    }
    return 1;
}

static PyObject *raftsim_getattr_miss(PyObject *obj, PyObject *name, RaftsimAttrCache *c) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp->tp_getattro == PyObject_GenericGetAttr && PyUnicode_CheckExact(name)
            && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag != 0) {
        unsigned int version = tp->tp_version_tag;
        PyObject *descr = _PyType_Lookup(tp, name);             /* borrowed */
        if (descr != NULL && Py_TYPE(descr) == &PyMemberDescr_Type
                && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)
                && tp->tp_version_tag == version) {
            PyMemberDescrObject *m = (PyMemberDescrObject *)descr;
            PyMemberDef *def = m->d_member;
            if ((def->type == T_OBJECT_EX || def->type == T_OBJECT)
                    && !(def->flags & READ_RESTRICTED)
                    && PyType_IsSubtype(tp, m->d_common.d_type)
                    && raftsim_mro_from_bases(tp)) {
                PyObject *old = c->name;                /* an exact str: frees no code */
                Py_INCREF(name);
                c->name = name;
                c->type = tp;
                c->version = version;
                c->offset = def->offset;
                Py_XDECREF(old);
            }
        }
    }
    return PyObject_GetAttr(obj, name);
}

static inline PyObject *raftsim_getattr(PyObject *obj, PyObject *name, RaftsimAttrCache *c) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == c->type && name == c->name && tp->tp_version_tag == c->version
            && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *value = *(PyObject **)((char *)obj + c->offset);
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
        return PyObject_GetAttr(obj, name);
    }
    return raftsim_getattr_miss(obj, name, c);
}

#undef CPyObject_GetAttr
#define CPyObject_GetAttr(obj, attr) ({                                     \
    static RaftsimAttrCache raftsim_site_cache = {NULL, NULL, 0, 0};        \
    PyObject *raftsim_obj = (obj), *raftsim_attr = (attr);                  \
    CPy_LogGetAttr("log", raftsim_obj, raftsim_attr);                       \
    raftsim_getattr(raftsim_obj, raftsim_attr, &raftsim_site_cache); })

#endif
#endif
