"""Form definitions (JSON Schema files), submission coercion and validation, and Chinese identifier checks.

Pure Python: nothing here imports the workflow layer, the web app or Flask.
"""

from forms.identity import (
    bank_card_problem,
    is_valid_resident_id,
    mask_bank_card,
    mask_mobile,
    mask_resident_id,
    mobile_problem,
    resident_id_birth_date,
    resident_id_problem,
    resident_id_sex,
    uscc_problem,
)
from forms.loader import FORMS_DIR, FormDefinition, FormNotFound, InvalidFormSchema, list_forms, load_form
from forms.sensitive import mask_sensitive, without_sensitive
from forms.validation import FormValidationError, canonical_json, data_hash, validate_submission

__all__ = [
    "FORMS_DIR",
    "FormDefinition",
    "FormNotFound",
    "FormValidationError",
    "InvalidFormSchema",
    "bank_card_problem",
    "canonical_json",
    "data_hash",
    "is_valid_resident_id",
    "list_forms",
    "load_form",
    "mask_bank_card",
    "mask_mobile",
    "mask_resident_id",
    "mask_sensitive",
    "mobile_problem",
    "resident_id_birth_date",
    "resident_id_problem",
    "resident_id_sex",
    "uscc_problem",
    "validate_submission",
    "without_sensitive",
]
