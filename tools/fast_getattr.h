/* Attribute reads of the compiled build, with an inline cache at each read.

   mypyc reads an attribute of an object that is not one of its native classes (a msgspec
   Struct: every message, log entry and Raft state) with PyObject_GetAttr: about 150
   instructions through the type's generic getattr, its method cache and the member
   descriptor, where the interpreter's LOAD_ATTR_SLOT takes about 10. tools/build_compiled.py
   includes this header after mypyc's CPy.h in every compiled module.

   Each read site keeps the type it saw last, that type's version tag and the slot's offset.
   It caches only what the generic path would answer from a plain slot: the type's getattro is
   PyObject_GenericGetAttr, and the name resolves, through the type's MRO, to a member
   descriptor of kind T_OBJECT_EX or T_OBJECT, of a class the type derives from, read without
   an audit hook. A member descriptor is a data descriptor, so the generic path returns what it
   gives whatever the instance holds. A hit is an object of exactly that type, whose version
   tag is unchanged (any change to the class or a base gives it a new one, never reused), with
   the slot set: one load. Anything else, an empty slot included (the generic path raises
   AttributeError or returns None), goes to PyObject_GetAttr. Same values, same errors. */

#ifndef RAFTSIM_FAST_GETATTR_H
#define RAFTSIM_FAST_GETATTR_H

#if defined(__GNUC__) && PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000

#include <structmember.h>

typedef struct {
    PyTypeObject *type;
    unsigned int version;
    Py_ssize_t offset;
} RaftsimAttrCache;

static PyObject *raftsim_getattr_miss(PyObject *obj, PyObject *name, RaftsimAttrCache *c) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp->tp_getattro == PyObject_GenericGetAttr && PyUnicode_CheckExact(name)) {
        PyObject *descr = _PyType_Lookup(tp, name);             /* borrowed */
        if (descr != NULL && Py_TYPE(descr) == &PyMemberDescr_Type
                && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag != 0) {
            PyMemberDescrObject *m = (PyMemberDescrObject *)descr;
            PyMemberDef *def = m->d_member;
            if ((def->type == T_OBJECT_EX || def->type == T_OBJECT)
                    && !(def->flags & READ_RESTRICTED)
                    && PyType_IsSubtype(tp, m->d_common.d_type)) {
                c->type = tp;
                c->version = tp->tp_version_tag;
                c->offset = def->offset;
            }
        }
    }
    return PyObject_GetAttr(obj, name);
}

static inline PyObject *raftsim_getattr(PyObject *obj, PyObject *name, RaftsimAttrCache *c) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == c->type && tp->tp_version_tag == c->version
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
    static RaftsimAttrCache raftsim_site_cache = {NULL, 0, 0};              \
    raftsim_getattr((obj), (attr), &raftsim_site_cache); })

#endif
#endif
