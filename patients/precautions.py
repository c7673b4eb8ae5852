"""Movement-precaution vocabulary and the defaults that follow from a patient's surgery.

Exercises list the precautions they conflict with; patients and protocol phases list the
precautions in force. A conflict is the intersection of the two.
"""

HIP_FLEXION_OVER_90 = "hip-flexion-over-90"
HIP_ADDUCTION_PAST_MIDLINE = "hip-adduction-past-midline"
HIP_INTERNAL_ROTATION = "hip-internal-rotation"
HIP_END_RANGE_ROTATION = "hip-end-range-rotation"
HIP_EXTENSION_END_RANGE = "hip-extension-end-range"
HIGH_IMPACT = "high-impact"
FULL_WEIGHT_BEARING = "full-weight-bearing"

PRECAUTION_LABELS: dict[str, str] = {
    HIP_FLEXION_OVER_90: "No hip flexion past 90°",
    HIP_ADDUCTION_PAST_MIDLINE: "No crossing the legs past the midline",
    HIP_INTERNAL_ROTATION: "No hip internal rotation",
    HIP_END_RANGE_ROTATION: "No end-range hip rotation",
    HIP_EXTENSION_END_RANGE: "No forced end-range hip extension",
    HIGH_IMPACT: "No high-impact loading (jumping, running)",
    FULL_WEIGHT_BEARING: "Not yet full weight on the operated leg",
}

POSTERIOR_HIP_PRECAUTIONS = (HIP_FLEXION_OVER_90, HIP_ADDUCTION_PAST_MIDLINE, HIP_INTERNAL_ROTATION)
ANTERIOR_HIP_PRECAUTIONS = (HIP_EXTENSION_END_RANGE, HIP_END_RANGE_ROTATION)


def default_precautions(condition: str, surgical_approach: str) -> list[str]:
    """Precautions a newly created patient starts with; the therapist can edit them."""
    if condition == "total_hip_replacement":
        if surgical_approach == "posterior":
            return list(POSTERIOR_HIP_PRECAUTIONS)
        if surgical_approach == "anterior":
            return list(ANTERIOR_HIP_PRECAUTIONS)
        if surgical_approach == "lateral":
            return [HIP_ADDUCTION_PAST_MIDLINE]
    return []


def unknown_precautions(tags: list[str]) -> list[str]:
    return sorted(set(tags) - set(PRECAUTION_LABELS))
