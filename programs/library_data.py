"""Seed data for the exercise library and the built-in protocols.

Plain literals only: a data migration loads these constants, so the module must not import
Django or any app code. All patient- and therapist-facing text is written for Stride; the
numbers and phase structure follow the clinical reference notes in the shared README.

Conventions:
- ``precaution_tags`` on an exercise names the precautions it conflicts with; on a phase it
  names the precautions in force. No phase lists an exercise whose tags intersect its own.
- For timed exercises (prone lying, bike, walking, jog-walk intervals) ``hold_seconds`` is the
  duration of one rep, so ``1 x 1, hold 600`` means ten minutes.
- ``end_week`` is exclusive and ``None`` for an open-ended last phase; the last phase's
  criteria are the criteria for discharge from the home program.
"""

EXERCISES = [
    # ------------------------------------------------------------------ early / bed level
    {
        "slug": "ankle-pumps",
        "name": "Ankle pumps",
        "category": "mobility",
        "instructions": (
            "Lie on your back or sit with your legs stretched out. "
            "Point your toes away from you, then pull them back up toward your shins, "
            "moving only at the ankles. "
            "Repeat through the day, especially after you have been resting for a while."
        ),
        "cues": ["Use the full ankle range", "Slow, steady rhythm", "Keep breathing normally"],
        "sets": 1,
        "reps": 20,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "quad-sets",
        "name": "Quad sets (thigh tightening)",
        "category": "strength",
        "instructions": (
            "Lie on your back with your legs straight. "
            "Tighten the muscle on the front of your thigh so the back of your knee presses "
            "down into the bed. "
            "Hold, then let the muscle relax completely before the next one."
        ),
        "cues": [
            "Press the back of the knee down",
            "Toes point to the ceiling",
            "Relax fully between reps",
        ],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "glute-sets",
        "name": "Glute sets (buttock squeezes)",
        "category": "strength",
        "instructions": (
            "Lie on your back with your legs straight or your knees bent. "
            "Squeeze your buttock muscles together firmly and hold. "
            "Let go slowly and keep breathing the whole time."
        ),
        "cues": ["Squeeze as if holding a coin", "Don't hold your breath"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": False,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "heel-slides",
        "name": "Heel slides",
        "category": "mobility",
        "instructions": (
            "Lie on your back with your legs straight. "
            "Slide the heel of your exercise leg toward your bottom so the knee bends, "
            "then slide it back out. "
            "Keep the knee pointing at the ceiling and stop before the hip bends past a right "
            "angle, or sooner if your surgeon has given you a smaller limit."
        ),
        "cues": [
            "Knee points at the ceiling",
            "Smooth slide in and out",
            "Stop at a comfortable limit",
        ],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "supine-hip-abduction",
        "name": "Lying leg slides out to the side",
        "category": "strength",
        "instructions": (
            "Lie on your back with your legs straight and toes pointing up. "
            "Slide your exercise leg out to the side along the bed, then bring it back to the "
            "middle. "
            "Don't let the leg cross past the middle of your body or roll inward."
        ),
        "cues": [
            "Kneecap faces the ceiling",
            "Stop at the middle on the way back",
            "Keep the knee straight",
        ],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "short-arc-quads",
        "name": "Short-arc quads",
        "category": "strength",
        "instructions": (
            "Lie on your back with a rolled towel or firm pillow under the knee of your "
            "exercise leg. "
            "Tighten your thigh and lift your heel until the knee is straight, keeping the back "
            "of the knee resting on the roll. "
            "Hold briefly, then lower slowly."
        ),
        "cues": ["Knee stays on the roll", "Fully straight at the top", "Lower with control"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 3,
        "per_side": True,
        "equipment": "towel roll",
        "precaution_tags": [],
    },
    {
        "slug": "hamstring-sets",
        "name": "Hamstring sets",
        "category": "strength",
        "instructions": (
            "Lie on your back with the knee of your exercise leg slightly bent. "
            "Dig your heel down into the bed and draw it back toward you without letting it "
            "move, so the back of your thigh tightens. "
            "Hold, then relax."
        ),
        "cues": ["Heel digs down and back", "Tension, not movement", "Relax between reps"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "straight-leg-raise",
        "name": "Straight-leg raise",
        "category": "strength",
        "instructions": (
            "Lie on your back with your other knee bent and that foot flat on the bed. "
            "Tighten the thigh of your straight exercise leg, then lift it to about the height "
            "of the bent knee. "
            "Lower it slowly, keeping your lower back relaxed on the bed."
        ),
        "cues": [
            "Lock the knee before lifting",
            "Lift only to the bent knee's height",
            "Lower slowly",
        ],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "adductor-squeeze",
        "name": "Pillow squeeze (inner thigh)",
        "category": "strength",
        "instructions": (
            "Lie on your back with both knees bent, feet flat and a pillow between your knees. "
            "Squeeze your knees into the pillow, hold, then ease off. "
            "Keep the squeeze firm but never painful."
        ),
        "cues": [
            "Squeeze with the knees, not the feet",
            "Hips stay level",
            "Breathe out as you squeeze",
        ],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": False,
        "equipment": "pillow",
        "precaution_tags": [],
    },
    {
        "slug": "hip-isometrics",
        "name": "Hip isometrics (push without moving)",
        "category": "strength",
        "instructions": (
            "Lie on your back with your knees bent and a pillow between them. "
            "Gently squeeze the pillow and hold, then loop a belt or your hands around the "
            "outside of your knees and press outward against it and hold. "
            "Your legs should not move, and the effort should stay light to moderate and "
            "pain free."
        ),
        "cues": ["Push without moving", "Light to moderate effort", "Keep breathing"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": False,
        "equipment": "pillow",
        "precaution_tags": [],
    },
    {
        "slug": "prone-lying",
        "name": "Lying on your stomach",
        "category": "stretch",
        "instructions": (
            "Roll onto your stomach on a firm bed, with a pillow between your knees as you "
            "turn. "
            "Lie with your legs straight and let the front of your hips relax; a thin pillow "
            "under your stomach can ease your back. "
            "Roll back out the same way if your back or hip starts to ache."
        ),
        "cues": ["Let the front of the hips sink", "Breathe slowly", "Roll out carefully"],
        "sets": 1,
        "reps": 1,
        "hold_seconds": 600,
        "per_side": False,
        "equipment": "pillow",
        "precaution_tags": [],
    },
    # ------------------------------------------------------------------ lying strength
    {
        "slug": "bridges",
        "name": "Bridges",
        "category": "strength",
        "instructions": (
            "Lie on your back with your knees bent and feet flat, hip-width apart. "
            "Tighten your buttocks and lift your hips until your body is in a straight line "
            "from shoulders to knees. "
            "Pause, then lower slowly."
        ),
        "cues": [
            "Push through your heels",
            "Squeeze the buttocks at the top",
            "Don't arch your lower back",
        ],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 3,
        "per_side": False,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "single-leg-bridge",
        "name": "Single-leg bridge",
        "category": "strength",
        "instructions": (
            "Lie on your back with your knees bent and feet flat. "
            "Straighten one leg so both thighs stay level, then push through the heel of the "
            "bent leg to lift your hips. "
            "Keep your pelvis level, pause at the top and lower slowly."
        ),
        "cues": ["Hips stay level", "Drive through the heel", "Lower slowly"],
        "sets": 3,
        "reps": 8,
        "hold_seconds": 2,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "clamshells",
        "name": "Clamshells",
        "category": "strength",
        "instructions": (
            "Lie on your side with your hips and knees bent, heels together and a pillow "
            "between your knees if that is more comfortable. "
            "Keeping your feet touching, lift the top knee as far as you can without rolling "
            "your pelvis backward, then lower it slowly. "
            "Once this is easy, add a band around your thighs."
        ),
        "cues": ["Feet stay together", "Don't let the top hip roll back", "Lift from the buttock"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "pillow",
        "precaution_tags": [],
    },
    {
        "slug": "side-lying-hip-abduction",
        "name": "Side-lying leg lift",
        "category": "strength",
        "instructions": (
            "Lie on your side with the bottom knee bent for balance. "
            "Keep the top leg straight and in line with your body, toes facing forward, and "
            "lift it toward the ceiling. "
            "Lower it slowly without letting it drift forward or drop across the bottom leg."
        ),
        "cues": ["Heel leads slightly", "Toes face forward, not up", "Lower with control"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "prone-hip-extension",
        "name": "Lying leg lift on your stomach",
        "category": "strength",
        "instructions": (
            "Lie face down with a pillow under your stomach if you need it. "
            "Tighten your buttock and lift one straight leg a few centimetres off the bed, "
            "then lower it slowly. "
            "Keep both hip bones on the bed and don't twist your back."
        ),
        "cues": ["Small lift, big squeeze", "Hip bones stay down", "Knee stays straight"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 2,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "side-plank",
        "name": "Side plank (knees bent)",
        "category": "strength",
        "instructions": (
            "Lie on your side propped on your forearm, elbow under your shoulder, knees bent "
            "behind you. "
            "Lift your hips so your body forms a straight line from head to knees, hold, then "
            "lower gently. "
            "Move to straight legs only when the bent-knee version feels easy."
        ),
        "cues": ["Elbow under the shoulder", "Hips up and forward", "Breathe through the hold"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 20,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [],
    },
    # ------------------------------------------------------------------ standing strength
    {
        "slug": "standing-side-leg-raise",
        "name": "Standing side leg raise (holding a chair)",
        "category": "strength",
        "instructions": (
            "Stand behind a sturdy chair and hold the backrest with both hands. "
            "Lift one leg out to the side with the knee straight and toes pointing forward, "
            "then lower it slowly. "
            "Keep your trunk still and stop the leg at the middle as it comes back."
        ),
        "cues": ["Stand tall, no side lean", "Toes point forward", "Stop at the middle"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "standing-hip-extension",
        "name": "Standing leg swing back (no band)",
        "category": "strength",
        "instructions": (
            "Stand facing a counter or the back of a chair and hold on with both hands. "
            "Keeping your knee straight and your trunk upright, move one leg a short way "
            "behind you, then bring it back. "
            "Go only as far as you can without arching your back or leaning forward."
        ),
        "cues": ["Small range, tall trunk", "Squeeze the buttock", "No back arch"],
        "sets": 2,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "standing-hip-abduction-band",
        "name": "Standing side leg raise with band",
        "category": "strength",
        "instructions": (
            "Stand tall holding a chair or counter with a band looped around both ankles. "
            "Keeping your trunk upright and toes facing forward, move one leg out to the side "
            "against the band, then return it slowly. "
            "Don't lean your body the other way to get the leg higher."
        ),
        "cues": ["Stay tall, no side lean", "Toes point forward", "Control the return"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "resistance band",
        "precaution_tags": [],
    },
    {
        "slug": "standing-hip-extension-band",
        "name": "Standing leg swing back with band",
        "category": "strength",
        "instructions": (
            "Stand facing a chair or counter with a band around both ankles and hold on. "
            "Keep your knee straight and move one leg straight back against the band, then "
            "bring it forward slowly. "
            "Move only as far as you can without arching your lower back or tipping forward."
        ),
        "cues": ["Trunk stays upright", "Squeeze the buttock", "Slow return"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "resistance band",
        "precaution_tags": [],
    },
    {
        "slug": "standing-marching",
        "name": "Standing marching (hip flexion)",
        "category": "strength",
        "instructions": (
            "Stand tall holding a counter or the back of a chair. "
            "Lift one knee in front of you, no higher than your hip, then lower it and lift "
            "the other. "
            "Keep your trunk upright rather than leaning back."
        ),
        "cues": ["Knee no higher than the hip", "Stand tall", "Slow and controlled"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "mini-squats",
        "name": "Mini-squats",
        "category": "strength",
        "instructions": (
            "Stand with your feet shoulder-width apart, holding a counter or the back of a "
            "chair. "
            "Bend your knees and push your hips back a little, as if starting to sit, going "
            "only about a quarter of the way down. "
            "Straighten back up by pushing through your heels."
        ),
        "cues": ["Knees over the toes", "Weight even on both legs", "Shallow depth only"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "wall-squats",
        "name": "Wall squats",
        "category": "strength",
        "instructions": (
            "Stand with your back against a wall, feet shoulder-width apart and about a foot "
            "out from the wall. "
            "Slide down until your knees are partly bent, no deeper than is comfortable, hold, "
            "then slide back up. "
            "Keep your knees in line with your feet."
        ),
        "cues": [
            "Back flat on the wall",
            "Knees over the middle toes",
            "Stay above a comfortable depth",
        ],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 5,
        "per_side": False,
        "equipment": "wall",
        "precaution_tags": [],
    },
    {
        "slug": "sit-to-stand",
        "name": "Sit to stand",
        "category": "strength",
        "instructions": (
            "Sit near the front of a firm chair that is high enough for your hips to sit a "
            "little above your knees. "
            "Lean forward slightly, push through both feet and stand up fully, using your hands "
            "as little as you can. "
            "Lower yourself back down slowly and with control."
        ),
        "cues": ["Feet flat, slightly behind the knees", "Stand fully tall", "Sit down slowly"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "hip-hinge",
        "name": "Hip hinge with a dowel",
        "category": "strength",
        "instructions": (
            "Stand with feet hip-width apart and hold a dowel or broom handle along your back "
            "so it touches your head, upper back and tailbone. "
            "With soft knees, push your hips back and tip your trunk forward while keeping all "
            "three points in contact. "
            "Go only as far as you can without the stick leaving your back, then drive your "
            "hips forward to stand tall."
        ),
        "cues": ["Hips back, not down", "Three points on the stick", "Squeeze up to standing"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "dowel",
        "precaution_tags": ["hip-flexion-over-90"],
    },
    {
        "slug": "calf-raises",
        "name": "Calf raises",
        "category": "strength",
        "instructions": (
            "Stand with feet hip-width apart, lightly holding a counter or chair. "
            "Rise up onto the balls of your feet as high as you can, then lower your heels "
            "slowly. "
            "Keep your weight spread evenly across both feet."
        ),
        "cues": ["Straight up, straight down", "Slow on the way down", "Weight even"],
        "sets": 3,
        "reps": 15,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "long-arc-quads",
        "name": "Seated knee straightening",
        "category": "strength",
        "instructions": (
            "Sit tall on a firm chair high enough that your hips sit a little above your knees. "
            "Straighten one knee fully, tightening the front of your thigh, pause, then lower "
            "slowly. "
            "Add a light ankle weight when this becomes easy."
        ),
        "cues": ["Sit tall", "Fully straight at the top", "Lower slowly"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 2,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "monster-walk",
        "name": "Side-stepping with band (monster walk)",
        "category": "strength",
        "instructions": (
            "Loop a band around your legs just above the knees or at the ankles and stand with "
            "feet hip-width apart and knees slightly bent. "
            "Take a steady step to the side, then follow with the other foot without letting "
            "the band go slack. "
            "Take the set number of steps one way, then come back the other way."
        ),
        "cues": ["Keep the band tight", "Toes point forward", "Feet never touch"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "resistance band",
        "precaution_tags": ["full-weight-bearing"],
    },
    # ------------------------------------------------------------------ single-leg loading
    {
        "slug": "hip-hikers",
        "name": "Hip hikers (pelvic drop on a step)",
        "category": "strength",
        "instructions": (
            "Stand sideways on a step on your exercise leg, with the other foot hanging off "
            "the edge. "
            "Keeping both knees straight, let the free side of your pelvis drop slowly, then "
            "lift it back up just past level using the hip of the standing leg. "
            "Hold a rail or the wall for balance."
        ),
        "cues": [
            "Both knees stay straight",
            "Move at the hip, not the waist",
            "Small, slow movement",
        ],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 2,
        "per_side": True,
        "equipment": "step",
        "precaution_tags": ["full-weight-bearing"],
    },
    {
        "slug": "step-ups",
        "name": "Step-ups",
        "category": "strength",
        "instructions": (
            "Stand facing a low step, holding a rail or the wall if needed. "
            "Step up with your exercise leg, straighten it fully, then bring the other foot "
            "up. "
            "Step back down leading with the other leg, and keep the step low enough that your "
            "hip stays well below a right angle."
        ),
        "cues": ["Whole foot on the step", "Knee over the middle toes", "Push through the heel"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "step",
        "precaution_tags": ["full-weight-bearing"],
    },
    {
        "slug": "step-downs",
        "name": "Step-downs",
        "category": "strength",
        "instructions": (
            "Stand on a low step on your exercise leg, holding a rail for balance. "
            "Slowly bend that knee to lower the other heel toward the floor in front, touch "
            "lightly, then straighten back up. "
            "Keep your pelvis level and your knee pointing over your middle toes."
        ),
        "cues": ["Slow on the way down", "Hips stay level", "Knee doesn't cave inward"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "step",
        "precaution_tags": ["full-weight-bearing"],
    },
    {
        "slug": "split-squat",
        "name": "Split squat",
        "category": "strength",
        "instructions": (
            "Stand in a long stride, one foot well in front of the other, holding a chair for "
            "balance if needed. "
            "Lower straight down by bending both knees only as far as you can control, then "
            "push back up through the front heel. "
            "Keep your trunk upright and your front knee over your middle toes."
        ),
        "cues": ["Straight down, straight up", "Front knee over the toes", "Trunk tall"],
        "sets": 3,
        "reps": 8,
        "hold_seconds": 0,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": ["full-weight-bearing"],
    },
    # ------------------------------------------------------------------ balance
    {
        "slug": "tandem-stance",
        "name": "Heel-to-toe stance",
        "category": "balance",
        "instructions": (
            "Stand beside a counter and place one foot directly in front of the other, heel "
            "touching toes. "
            "Hold the position while looking straight ahead, touching the counter only if you "
            "start to sway. "
            "Switch which foot is in front each time."
        ),
        "cues": ["Eyes on a fixed point", "Stand tall", "Hand ready, not leaning"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "single-leg-balance",
        "name": "Single-leg balance",
        "category": "balance",
        "instructions": (
            "Stand next to a counter or sturdy chair with one hand hovering just above it. "
            "Lift one foot a little off the floor and balance on the other leg, keeping your "
            "pelvis level. "
            "Touch the support whenever you need to, and make it harder only once you can hold "
            "steadily."
        ),
        "cues": ["Stand tall", "Hips level", "Soft knee on the standing leg"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": ["full-weight-bearing"],
    },
    {
        "slug": "lateral-hops",
        "name": "Side-to-side hops",
        "category": "balance",
        "instructions": (
            "Stand on both feet beside a line on the floor with your knees slightly bent. "
            "Hop sideways over the line and back, landing softly with your knees over your "
            "toes. "
            "Stop the set as soon as your landings become heavy or wobbly."
        ),
        "cues": ["Land quietly", "Knees over the toes", "Quality over speed"],
        "sets": 3,
        "reps": 10,
        "hold_seconds": 0,
        "per_side": False,
        "equipment": "",
        "precaution_tags": ["high-impact", "full-weight-bearing"],
    },
    # ------------------------------------------------------------------ cardio
    {
        "slug": "stationary-bike",
        "name": "Stationary bike",
        "category": "cardio",
        "instructions": (
            "Set the seat high enough that your knee is only slightly bent at the bottom of "
            "each pedal stroke; this also stops your hip bending too far at the top. "
            "Pedal at an easy pace with light resistance. "
            "Add time or resistance only a little at a time."
        ),
        "cues": ["Seat high", "Easy, smooth pace", "You should be able to talk"],
        "sets": 1,
        "reps": 1,
        "hold_seconds": 900,
        "per_side": False,
        "equipment": "stationary bike",
        "precaution_tags": [],
    },
    {
        "slug": "walking-program",
        "name": "Walking program",
        "category": "cardio",
        "instructions": (
            "Walk at a comfortable pace on level ground, using your walking aid if you have "
            "been given one. "
            "Start with a time you can manage without your pain rising, and add a few minutes "
            "every few days. "
            "Wear supportive shoes and pick safe, even routes at first."
        ),
        "cues": [
            "Heel first, then roll through",
            "Even steps on both sides",
            "Comfortable, steady pace",
        ],
        "sets": 1,
        "reps": 1,
        "hold_seconds": 600,
        "per_side": False,
        "equipment": "",
        "precaution_tags": [],
    },
    {
        "slug": "jog-walk-intervals",
        "name": "Jog-walk intervals",
        "category": "cardio",
        "instructions": (
            "After five minutes of brisk walking, jog at an easy pace for one minute, then walk "
            "for two minutes, and repeat. "
            "Use a flat, even surface and supportive shoes. "
            "Add jogging time only if pain stays low during the run and the next morning."
        ),
        "cues": ["Short, light steps", "Easy pace", "Check how you feel next morning"],
        "sets": 1,
        "reps": 6,
        "hold_seconds": 60,
        "per_side": False,
        "equipment": "",
        "precaution_tags": ["high-impact", "full-weight-bearing"],
    },
    # ------------------------------------------------------------------ stretches / mobility
    {
        "slug": "kneeling-hip-flexor-stretch",
        "name": "Kneeling hip flexor (psoas) stretch",
        "category": "stretch",
        "instructions": (
            "Kneel on your exercise-side knee on a cushion with the other foot flat in front, "
            "as in a half-kneeling lunge. "
            "Tuck your tailbone under, then shift your body forward until you feel a stretch "
            "at the front of the back hip. "
            "Keep your trunk upright and don't arch your back to get more stretch."
        ),
        "cues": ["Tailbone tucked", "Trunk upright", "Gentle stretch, no pinching"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "pillow",
        "precaution_tags": ["hip-extension-end-range"],
    },
    {
        "slug": "one-joint-hip-flexor-stretch",
        "name": "One-joint hip flexor stretch (edge of bed)",
        "category": "stretch",
        "instructions": (
            "Sit on the very edge of a firm bed, then lie back while hugging one knee to your "
            "chest. "
            "Let the other leg hang over the edge with the knee relaxed, so its weight "
            "stretches the front of that hip. "
            "Keep your lower back flat on the bed while you hold."
        ),
        "cues": ["Lower back flat", "Let the hanging leg relax", "Breathe into the stretch"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "bed",
        "precaution_tags": ["hip-flexion-over-90", "hip-extension-end-range"],
    },
    {
        "slug": "kneeling-wall-hip-opener",
        "name": "Kneeling wall hip opener (back-bend)",
        "category": "stretch",
        "instructions": (
            "Kneel with your back to a wall, the shin of your exercise leg resting up the wall "
            "and the other foot forward on the floor. "
            "Slowly lift your chest and lean back toward the wall until you feel a strong "
            "stretch across the front of the thigh and hip. "
            "Come out slowly, and stop if you feel pinching at the front of the hip."
        ),
        "cues": [
            "Ease in slowly",
            "Squeeze the buttock of the back leg",
            "Stop if the hip pinches",
        ],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "wall",
        "precaution_tags": ["hip-extension-end-range"],
    },
    {
        "slug": "supine-knee-hug-twist",
        "name": "Knee hug with lowered-knees twist",
        "category": "mobility",
        "instructions": (
            "Lie on your back with both knees bent and hug them toward your chest for a few "
            "breaths. "
            "Then, with your arms out to the sides, let both knees lower slowly to one side "
            "while your shoulders stay down. "
            "Bring them back through the middle and lower to the other side, moving only as "
            "far as is comfortable."
        ),
        "cues": ["Shoulders stay on the floor", "Move slowly", "Breathe out as you lower"],
        "sets": 1,
        "reps": 5,
        "hold_seconds": 10,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [
            "hip-flexion-over-90",
            "hip-adduction-past-midline",
            "hip-internal-rotation",
            "hip-end-range-rotation",
        ],
    },
    {
        "slug": "supine-strap-leg-fall-out",
        "name": "Strap stretch with leg falling out to the side",
        "category": "stretch",
        "instructions": (
            "Lie on your back with a strap looped around the foot of your exercise leg. "
            "Holding the strap, raise the straight leg until you feel a stretch behind the "
            "thigh, then let it fall slowly out to the side while your other hip stays down. "
            "Hold at a gentle stretch, then bring the leg back to the middle before lowering "
            "it."
        ),
        "cues": ["Keep the knee straight", "Other hip stays on the floor", "Gentle stretch only"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "strap",
        "precaution_tags": ["hip-flexion-over-90", "hip-end-range-rotation"],
    },
    {
        "slug": "figure-4-stretch",
        "name": "Figure-4 buttock stretch",
        "category": "stretch",
        "instructions": (
            "Lie on your back with both knees bent. "
            "Cross the ankle of your exercise leg over the opposite knee, then gently draw the "
            "bottom thigh toward your chest until you feel a stretch in the buttock. "
            "Hold and breathe, then lower slowly."
        ),
        "cues": ["Head and shoulders relaxed", "Gentle pull", "Breathe through the hold"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "",
        "precaution_tags": [
            "hip-flexion-over-90",
            "hip-adduction-past-midline",
            "hip-end-range-rotation",
        ],
    },
    {
        "slug": "knee-to-chest-stretch",
        "name": "Knee-to-chest stretch",
        "category": "stretch",
        "instructions": (
            "Lie on your back with both knees bent. "
            "Bring one knee up toward your chest and hold behind the thigh with both hands "
            "until you feel a stretch in the buttock and lower back. "
            "Lower slowly and switch sides."
        ),
        "cues": ["Hands behind the thigh", "Other foot stays down", "Relax the shoulders"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "",
        "precaution_tags": ["hip-flexion-over-90"],
    },
    {
        "slug": "standing-quad-stretch",
        "name": "Standing thigh stretch",
        "category": "stretch",
        "instructions": (
            "Stand holding a counter or chair for balance. "
            "Bend one knee and hold the ankle, a strap or your trouser leg, drawing the heel "
            "toward your buttock until you feel a stretch at the front of the thigh. "
            "Keep your knees side by side and your trunk upright without arching."
        ),
        "cues": ["Knees side by side", "Tuck the tailbone slightly", "No back arch"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "chair",
        "precaution_tags": [],
    },
    {
        "slug": "calf-stretch",
        "name": "Calf stretch at the wall",
        "category": "stretch",
        "instructions": (
            "Stand facing a wall with your hands on it and one foot stepped back. "
            "Keep the back heel down and the back knee straight, then lean toward the wall "
            "until you feel a stretch in the calf. "
            "Hold, then switch legs."
        ),
        "cues": ["Back heel down", "Back toes point forward", "Lean from the ankles"],
        "sets": 1,
        "reps": 3,
        "hold_seconds": 30,
        "per_side": True,
        "equipment": "wall",
        "precaution_tags": [],
    },
]


PROTOCOLS = [
    # ====================================================================== hip replacement
    {
        "slug": "total-hip-replacement-posterior",
        "name": "Total hip replacement (posterior approach)",
        "condition": "total_hip_replacement",
        "description": (
            "Home program after a total hip replacement done through the posterior (back) "
            "approach. It moves through three stages of protection, from gentle bed exercises "
            "to standing strength and balance work, while the hip precautions stay in place. "
            "The surgeon's own limits always come first; this plan supports the therapist's "
            "judgement and does not replace it."
        ),
        "phases": [
            {
                "order": 1,
                "name": "Maximum protection",
                "start_week": 0,
                "end_week": 4,
                "goals": (
                    "Protect the new hip, keep blood moving in the legs, control swelling, "
                    "switch the thigh and buttock muscles back on, and get in and out of bed "
                    "and a chair safely."
                ),
                "precautions": (
                    "Keep to your hip precautions: don't bend the hip past a right angle, "
                    "don't cross the operated leg over the middle of your body, and don't "
                    "turn the leg or knee inward. Use your walking aid as instructed. No "
                    "running or jumping. Stop any exercise that causes sharp pain and tell "
                    "your therapist."
                ),
                "precaution_tags": [
                    "hip-flexion-over-90",
                    "hip-adduction-past-midline",
                    "hip-internal-rotation",
                    "high-impact",
                ],
                "sessions_per_week": 7,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 4,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "ankle-pumps", "sets": 1, "reps": 20, "hold_seconds": 0},
                    {"slug": "quad-sets", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "glute-sets", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "heel-slides", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "supine-hip-abduction", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "short-arc-quads", "sets": 2, "reps": 10, "hold_seconds": 3},
                    {"slug": "hamstring-sets", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "straight-leg-raise", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "adductor-squeeze", "sets": 2, "reps": 10, "hold_seconds": 5},
                ],
            },
            {
                "order": 2,
                "name": "Moderate protection",
                "start_week": 4,
                "end_week": 6,
                "goals": (
                    "Build strength in standing, rely less on the walking aid, and manage "
                    "stairs and everyday tasks while still keeping the hip precautions."
                ),
                "precautions": (
                    "The same hip precautions still apply: no bending past a right angle, no "
                    "crossing the leg over the middle, no turning the leg inward. Use a "
                    "raised chair and a low step. No running or jumping."
                ),
                "precaution_tags": [
                    "hip-flexion-over-90",
                    "hip-adduction-past-midline",
                    "hip-internal-rotation",
                    "high-impact",
                ],
                "sessions_per_week": 6,
                "criteria": {
                    "min_weeks": 2,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 2,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {
                        "slug": "standing-hip-extension-band",
                        "sets": 2,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "mini-squats", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-ups", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "prone-lying", "sets": 1, "reps": 1, "hold_seconds": 600},
                    {"slug": "sit-to-stand", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "bridges", "sets": 2, "reps": 10, "hold_seconds": 3},
                    {"slug": "straight-leg-raise", "sets": 2, "reps": 10, "hold_seconds": 0},
                ],
            },
            {
                "order": 3,
                "name": "Minimum protection",
                "start_week": 6,
                "end_week": None,
                "goals": (
                    "Keep strengthening the muscles that straighten and steady the hip, build "
                    "walking endurance and balance, and walk without a limp."
                ),
                "precautions": (
                    "Avoid running, jumping and other high-impact activity. Some surgeons keep "
                    "the hip precautions until about 12 weeks, so follow the limits you have "
                    "been given; the exercises here stay within them."
                ),
                "precaution_tags": ["high-impact"],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 6,
                    "max_pain": 2,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": "hoos_jr",
                    "outcome_min_score": 76.7,
                },
                "exercises": [
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {"slug": "side-lying-hip-abduction", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {
                        "slug": "standing-hip-extension-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "step-ups", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 900},
                    {"slug": "tandem-stance", "sets": 1, "reps": 3, "hold_seconds": 30},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 20},
                    {"slug": "walking-program", "sets": 1, "reps": 1, "hold_seconds": 1200},
                ],
            },
        ],
    },
    # ====================================================================== labral repair
    {
        "slug": "hip-arthroscopy-labral-repair",
        "name": "Hip arthroscopy with labral repair",
        "condition": "hip_labrum_tear",
        "description": (
            "Criteria-based home program after hip arthroscopy with labral repair, in four "
            "stages from protecting the repair to returning to sport. Moving up a stage depends "
            "on time, pain, adherence and the therapist's check of range and walking, not on "
            "the calendar alone. People managing a labral tear without surgery can follow the "
            "non-operative labral program, which uses the same strengthening ladder without "
            "weight-bearing limits."
        ),
        "phases": [
            {
                "order": 1,
                "name": "Protect the repair",
                "start_week": 0,
                "end_week": 4,
                "goals": (
                    "Protect the repaired labrum, settle pain and swelling, keep the hip and "
                    "thigh muscles working, and regain range gently. Move on when pain is "
                    "minimal, range is improving and you no longer need crutches."
                ),
                "precautions": (
                    "Use your crutches with the weight your surgeon allowed. Keep hip bending "
                    "to a right angle or less, don't twist the leg to the end of its range "
                    "either way, don't cross it over the middle of your body, and don't "
                    "stretch the front of the hip hard. No running or jumping."
                ),
                "precaution_tags": [
                    "hip-flexion-over-90",
                    "hip-end-range-rotation",
                    "hip-adduction-past-midline",
                    "hip-extension-end-range",
                    "full-weight-bearing",
                    "high-impact",
                ],
                "sessions_per_week": 7,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "ankle-pumps", "sets": 1, "reps": 20, "hold_seconds": 0},
                    {"slug": "quad-sets", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "glute-sets", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "heel-slides", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "hip-isometrics", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "standing-side-leg-raise", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "standing-hip-extension", "sets": 2, "reps": 10, "hold_seconds": 0},
                ],
            },
            {
                "order": 2,
                "name": "Pain-free daily activities",
                "start_week": 4,
                "end_week": 8,
                "goals": (
                    "Get back to everyday activities without pain, strengthen the hip and "
                    "start balance work. Move on when you walk normally without pain and hip "
                    "range is full."
                ),
                "precautions": (
                    "Don't force the hip into end-range twisting or cross the leg over the "
                    "middle. Start the kneeling hip flexor stretch gently and stop if the "
                    "front of the hip pinches. No running or jumping yet."
                ),
                "precaution_tags": [
                    "hip-end-range-rotation",
                    "hip-adduction-past-midline",
                    "high-impact",
                ],
                "sessions_per_week": 5,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "clamshells", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "side-lying-hip-abduction", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {
                        "slug": "kneeling-hip-flexor-stretch",
                        "sets": 1,
                        "reps": 3,
                        "hold_seconds": 30,
                    },
                    {"slug": "mini-squats", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 20},
                    {"slug": "walking-program", "sets": 1, "reps": 1, "hold_seconds": 900},
                ],
            },
            {
                "order": 3,
                "name": "Strength, endurance and balance",
                "start_week": 8,
                "end_week": 12,
                "goals": (
                    "Build hip and leg strength, endurance and single-leg control so that "
                    "stairs, longer walks and work tasks feel easy."
                ),
                "precautions": (
                    "Still no running, jumping or sharp changes of direction. Make an "
                    "exercise harder only when the current level is easy and pain free."
                ),
                "precaution_tags": ["high-impact"],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 2,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 8, "hold_seconds": 2},
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "monster-walk", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-ups", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-downs", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "hip-hinge", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 45},
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 1200},
                ],
            },
            {
                "order": 4,
                "name": "Return to sport",
                "start_week": 12,
                "end_week": None,
                "goals": (
                    "Reach the strength and control your sport needs, then return to impact "
                    "step by step from about month 5, once your therapist or surgeon clears "
                    "you."
                ),
                "precautions": (
                    "Running, hopping and sport drills usually begin around month 5 after "
                    "surgery, and only after you have been cleared; your therapist adds them "
                    "to your program at that point. Until then keep to the exercises listed."
                ),
                "precaution_tags": ["high-impact"],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 8,
                    "max_pain": 2,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": "hoos_jr",
                    "outcome_min_score": 76.7,
                },
                "exercises": [
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 10, "hold_seconds": 2},
                    {"slug": "split-squat", "sets": 3, "reps": 8, "hold_seconds": 0},
                    {"slug": "step-downs", "sets": 3, "reps": 12, "hold_seconds": 0},
                    {"slug": "monster-walk", "sets": 3, "reps": 12, "hold_seconds": 0},
                    {"slug": "hip-hinge", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "side-plank", "sets": 1, "reps": 3, "hold_seconds": 30},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 45},
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 1200},
                ],
            },
        ],
    },
    # ====================================================================== labral, no surgery
    {
        "slug": "hip-labrum-non-operative",
        "name": "Hip labral tear (non-operative)",
        "condition": "hip_labrum_tear",
        "description": (
            "Exercise-based care for a hip labral tear managed without surgery. It climbs the "
            "same strengthening ladder as the post-surgery program but has no weight-bearing "
            "limits, and early on it steers clear of deep bending and end-range twisting that "
            "tend to pinch the front of the hip. The therapist moves you on as pain and "
            "adherence allow."
        ),
        "phases": [
            {
                "order": 1,
                "name": "Settle and activate",
                "start_week": 0,
                "end_week": 4,
                "goals": (
                    "Calm the hip down, switch on the buttock and hip muscles, and keep "
                    "walking and daily activity going at a comfortable level."
                ),
                "precautions": (
                    "Avoid deep hip bending past a right angle, crossing the leg over the "
                    "middle and twisting the hip to the end of its range, as these often "
                    "provoke labral pain. No running or jumping for now."
                ),
                "precaution_tags": [
                    "hip-flexion-over-90",
                    "hip-adduction-past-midline",
                    "hip-end-range-rotation",
                    "high-impact",
                ],
                "sessions_per_week": 5,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "hip-isometrics", "sets": 2, "reps": 10, "hold_seconds": 5},
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {"slug": "clamshells", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "side-lying-hip-abduction", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "standing-side-leg-raise", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "mini-squats", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 600},
                ],
            },
            {
                "order": 2,
                "name": "Build strength and control",
                "start_week": 4,
                "end_week": 8,
                "goals": (
                    "Strengthen the hip in standing and on one leg, and improve balance and "
                    "control for stairs and longer walks."
                ),
                "precautions": (
                    "Still avoid twisting the hip to the end of its range and crossing the leg "
                    "over the middle. No running or jumping yet. Progress only when the "
                    "current level is easy and pain free."
                ),
                "precaution_tags": [
                    "hip-adduction-past-midline",
                    "hip-end-range-rotation",
                    "high-impact",
                ],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {
                        "slug": "standing-hip-extension-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "monster-walk", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 8, "hold_seconds": 2},
                    {"slug": "step-ups", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-downs", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 30},
                ],
            },
            {
                "order": 3,
                "name": "Return to full activity",
                "start_week": 8,
                "end_week": None,
                "goals": (
                    "Build the strength and control for work, sport and recreation, and "
                    "reintroduce running gradually if the hip tolerates it."
                ),
                "precautions": (
                    "Bring back running and impact a little at a time. Ease off if hip pain "
                    "rises during activity or is still raised the next morning."
                ),
                "precaution_tags": [],
                "sessions_per_week": 3,
                "criteria": {
                    "min_weeks": 4,
                    "max_pain": 2,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": "hoos_jr",
                    "outcome_min_score": 76.7,
                },
                "exercises": [
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 10, "hold_seconds": 2},
                    {"slug": "split-squat", "sets": 3, "reps": 8, "hold_seconds": 0},
                    {"slug": "hip-hinge", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "monster-walk", "sets": 3, "reps": 12, "hold_seconds": 0},
                    {"slug": "side-plank", "sets": 1, "reps": 3, "hold_seconds": 30},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 45},
                    {"slug": "jog-walk-intervals", "sets": 1, "reps": 6, "hold_seconds": 60},
                ],
            },
        ],
    },
    # ====================================================================== patellofemoral
    {
        "slug": "patellofemoral-hip-strengthening",
        "name": "Knee pain at the front of the knee: hip-first strengthening",
        "condition": "patellofemoral_pain",
        "description": (
            "Home program for pain around the kneecap (patellofemoral pain) that works mainly "
            "through the hip. It starts with about six weeks focused on the muscles that move "
            "the leg out to the side and turn it outward, which tends to ease pain sooner, "
            "then combines hip and knee exercises as current guidelines recommend. Exercises "
            "are done as 3 sets of 10 and made harder with a stronger band."
        ),
        "phases": [
            {
                "order": 1,
                "name": "Hip-focused strengthening",
                "start_week": 0,
                "end_week": 3,
                "goals": (
                    "Strengthen the hip muscles that steady the knee, with little load through "
                    "the front of the knee, so pain starts to ease."
                ),
                "precautions": (
                    "Knee pain during or after exercise should stay mild (3 out of 10 or "
                    "less) and settle by the next day. Hold off on running and jumping for "
                    "now."
                ),
                "precaution_tags": ["high-impact"],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 3,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "side-lying-hip-abduction", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "clamshells", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {"slug": "prone-hip-extension", "sets": 3, "reps": 10, "hold_seconds": 2},
                ],
            },
            {
                "order": 2,
                "name": "Hip-focused, weight-bearing",
                "start_week": 3,
                "end_week": 6,
                "goals": (
                    "Use the stronger hip muscles in standing and on one leg so the knee "
                    "tracks well on stairs and when squatting."
                ),
                "precautions": (
                    "Keep your knee pointing over your middle toes and don't let it cave "
                    "inward. Knee pain should stay at 3 out of 10 or less and settle by the "
                    "next day. No running or jumping yet."
                ),
                "precaution_tags": ["high-impact"],
                "sessions_per_week": 4,
                "criteria": {
                    "min_weeks": 3,
                    "max_pain": 3,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "clamshells", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "hip-hikers", "sets": 3, "reps": 10, "hold_seconds": 2},
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {"slug": "step-downs", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "wall-squats", "sets": 3, "reps": 10, "hold_seconds": 5},
                ],
            },
            {
                "order": 3,
                "name": "Combined hip and knee",
                "start_week": 6,
                "end_week": None,
                "goals": (
                    "Combine hip and knee strengthening, build up to the activities that "
                    "used to hurt, and keep the routine going on your own."
                ),
                "precautions": (
                    "Return to running or jumping gradually. Ease off if knee pain goes above "
                    "3 out of 10 or is still there the next day."
                ),
                "precaution_tags": [],
                "sessions_per_week": 3,
                "criteria": {
                    "min_weeks": 6,
                    "max_pain": 2,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": "koos_jr",
                    "outcome_min_score": 63.7,
                },
                "exercises": [
                    {"slug": "hip-hikers", "sets": 3, "reps": 10, "hold_seconds": 2},
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 10, "hold_seconds": 2},
                    {"slug": "monster-walk", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-downs", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "wall-squats", "sets": 3, "reps": 10, "hold_seconds": 5},
                    {"slug": "split-squat", "sets": 3, "reps": 8, "hold_seconds": 0},
                    {"slug": "long-arc-quads", "sets": 3, "reps": 10, "hold_seconds": 2},
                ],
            },
        ],
    },
    # ====================================================================== osteoarthritis
    {
        "slug": "hip-osteoarthritis-glad",
        "name": "Hip osteoarthritis: education and exercise (GLA:D-style)",
        "condition": "hip_osteoarthritis",
        "description": (
            "Program for hip osteoarthritis in the GLA:D style: education first, then six "
            "weeks of exercise with two supervised classes of about an hour each week (twelve "
            "in all), plus the same exercises at home. Work at an effort of about 5 to 6 out "
            "of 10, and don't step up if your form slips or pain stays up for more than a day "
            "afterwards. Progress is reviewed at 3 and 12 months."
        ),
        "phases": [
            {
                "order": 1,
                "name": "Education and learning the exercises",
                "start_week": 0,
                "end_week": 1,
                "goals": (
                    "Understand what osteoarthritis is and why exercise helps, and learn each "
                    "exercise with good form at an easy level."
                ),
                "precautions": (
                    "Focus on good form rather than effort. Some aching is fine, but tell your "
                    "therapist if pain is still raised the day after exercising."
                ),
                "precaution_tags": [],
                "sessions_per_week": 3,
                "criteria": {
                    "min_weeks": 1,
                    "max_pain": None,
                    "pain_lookback_sessions": 3,
                    "min_adherence": None,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 600},
                    {"slug": "bridges", "sets": 2, "reps": 10, "hold_seconds": 3},
                    {"slug": "sit-to-stand", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "standing-side-leg-raise", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "mini-squats", "sets": 2, "reps": 10, "hold_seconds": 0},
                    {"slug": "tandem-stance", "sets": 1, "reps": 3, "hold_seconds": 30},
                ],
            },
            {
                "order": 2,
                "name": "Six-week exercise block",
                "start_week": 1,
                "end_week": 7,
                "goals": (
                    "Improve strength, balance and control of the hip and knee through two "
                    "supervised classes a week plus home sessions on other days."
                ),
                "precautions": (
                    "Work at about 5 to 6 out of 10 effort. Stay at the same level if your "
                    "form slips, or if pain is still raised more than a day after exercise."
                ),
                "precaution_tags": [],
                "sessions_per_week": 3,
                "criteria": {
                    "min_weeks": 6,
                    "max_pain": 4,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": None,
                    "outcome_min_score": None,
                },
                "exercises": [
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 600},
                    {"slug": "bridges", "sets": 3, "reps": 10, "hold_seconds": 3},
                    {"slug": "side-plank", "sets": 1, "reps": 3, "hold_seconds": 20},
                    {
                        "slug": "standing-hip-abduction-band",
                        "sets": 3,
                        "reps": 10,
                        "hold_seconds": 0,
                    },
                    {"slug": "sit-to-stand", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "step-ups", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 30},
                ],
            },
            {
                "order": 3,
                "name": "Keep it going on your own",
                "start_week": 7,
                "end_week": None,
                "goals": (
                    "Keep up the exercise habit on your own until the 3-month review, then "
                    "carry on for the 12-month check."
                ),
                "precautions": (
                    "Keep the effort around 5 to 6 out of 10. Don't make an exercise harder "
                    "if your form slips or if pain stays up for more than a day afterwards."
                ),
                "precaution_tags": [],
                "sessions_per_week": 3,
                "criteria": {
                    "min_weeks": 6,
                    "max_pain": 4,
                    "pain_lookback_sessions": 3,
                    "min_adherence": 0.8,
                    "outcome_instrument": "hoos_jr",
                    "outcome_min_score": 76.7,
                },
                "exercises": [
                    {"slug": "stationary-bike", "sets": 1, "reps": 1, "hold_seconds": 900},
                    {"slug": "single-leg-bridge", "sets": 3, "reps": 8, "hold_seconds": 2},
                    {"slug": "side-plank", "sets": 1, "reps": 3, "hold_seconds": 30},
                    {"slug": "monster-walk", "sets": 3, "reps": 10, "hold_seconds": 0},
                    {"slug": "sit-to-stand", "sets": 3, "reps": 12, "hold_seconds": 0},
                    {"slug": "split-squat", "sets": 3, "reps": 8, "hold_seconds": 0},
                    {"slug": "single-leg-balance", "sets": 1, "reps": 3, "hold_seconds": 45},
                    {"slug": "walking-program", "sets": 1, "reps": 1, "hold_seconds": 1800},
                ],
            },
        ],
    },
]
